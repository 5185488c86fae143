//! Every string the window shows, in Chinese (the default) and English. Nothing visible is
//! written anywhere else.

use serde::{Deserialize, Serialize};

use crate::worker::{JobError, JobKind};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Lang {
    #[default]
    Zh,
    En,
}

/// A fixed piece of UI text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum T {
    AppTitle,
    TabClassify,
    TabTrain,
    TabExplain,
    TabAtlas,
    ReadImage,
    Verify,
    LanguageSwitch,
    PrecisionMenu,
    PrecisionAuto,
    PrecisionBf16,
    PrecisionFp32,
    PrecisionNoBf16,
    ModelMenu,
    LoadCheckpoint,
    ImportNetwork,
    PaperNetworkOnly,
    ImportedWeights,
    ImportNetworkHint,
    RunCheckpoints,
    LoadDescriptions,
    UseShippedModel,
    UseShippedTransferModel,
    UseShippedTransferModelHint,
    ChooseUnseenFolder,
    PressComputeHint,
    UseShippedModelHint,
    EditDescription,
    NoModel,
    LoadingModel,
    Classes,
    ValidationAccuracy,
    Device,
    Epoch,
    Idle,
    Working,
    Cancel,
    Confidence,
    TopFive,
    Introduction,
    NoDescription,
    DropHint,
    NoImageYet,
    PressVerify,
    Save,
    Close,
    ChineseName,
    EnglishName,
    IntroZh,
    IntroEn,
    DescriptionsFrom,
    DropToOpen,
    Dismiss,
    ModelNotReady,
    PickDataFolder,
    DatasetNone,
    SkippedFiles,
    TooSmallToSplit,
    Hyperparameters,
    Epochs,
    BatchSize,
    LearningRate,
    Schedule,
    ScheduleConstant,
    ScheduleCosine,
    ScheduleStep,
    WarmupEpochs,
    WeightDecay,
    Flip,
    CropArea,
    ColourJitter,
    RandomErasing,
    LabelSmoothing,
    Mixup,
    CutMix,
    WeightAverage,
    Seed,
    ValidationFraction,
    CheckpointEvery,
    KeepLast,
    HintEpochs,
    HintBatch,
    HintLr,
    HintSchedule,
    HintWarmup,
    HintWeightDecay,
    HintFlip,
    HintCrop,
    HintJitter,
    HintRandomErasing,
    HintLabelSmoothing,
    HintMixup,
    HintCutMix,
    HintWeightAverage,
    HintSeed,
    HintValidation,
    HintCheckpointEvery,
    HintKeepLast,
    StartTraining,
    ResumeTraining,
    RunFolder,
    TrainingLoss,
    ValidationLoss,
    TrainingAccuracy,
    ValidationAccuracyShort,
    Step,
    ConfusionClickHint,
    PhotosCount,
    NoPhotosInCell,
    ConfusionPhotoHint,
    LossChart,
    AccuracyChart,
    EpochTable,
    Duration,
    ConfusionMatrix,
    PerClass,
    Precision,
    Recall,
    F1,
    Support,
    Checkpoints,
    UseForClassification,
    InUse,
    TrainingFinished,
    TrainingCancelled,
    ReadingImages,
    Best,
    TrueClass,
    PredictedClass,
    ExplainSummary,
    ExplainFeatureMaps,
    ExplainPaperMap,
    ExplainFilters,
    ExplainSaliency,
    ExplainGradCam,
    ExplainOcclusion,
    ExplainVisualize,
    Compute,
    ExportPng,
    Layer,
    Class,
    File,
    AddDescription,
    DescribeClasses,
    ClassesDescribed,
    SavedTo,
    ClassId,
    AtlasDataFolder,
    ChooseAtlasDataFolder,
    AtlasFolderMissing,
    AtlasFolderOtherClasses,
    AtlasOutputsMapped,
    TrainStart,
    StartScratch,
    StartPretrained,
    StartScratchExplained,
    StartPretrainedExplained,
    StartFinetune,
    StartFinetuneExplained,
    PretrainedFrom,
    BackboneShipped,
    BackboneOpen,
    HintBackboneImport,
    Unfreeze,
    HintUnfreeze,
    PredictedClassOption,
    Normalisation,
    PerChannel,
    PerLayer,
    Global,
    AttributionMethodLabel,
    TintByAttribution,
    CompareSameClass,
    TintOff,
    AtlasFocusLabel,
    FocusAll,
    FocusClass,
    FocusCompare,
    CellPictureLabel,
    CellPictureSynthetic,
    CellPictureMean,
    CellPictureTypical,
    IgSteps,
    IgBaselineLabel,
    BaselineBlack,
    BaselineBlurred,
    BaselineNoise,
    SanityCheck,
    SanityHeading,
    SanityRandomisedDownTo,
    SanityInsensitive,
    SanitySensitive,
    FaithfulnessHeading,
    FaithfulnessMap,
    FaithfulnessMapColumn,
    FaithfulnessRandom,
    FaithfulnessSobel,
    DeletionAuc,
    InsertionAuc,
    AverageDrop,
    ConfidenceIncreased,
    DeletionCurve,
    InsertionCurve,
    FractionOfPixels,
    ClassProbability,
    Yes,
    No,
    Samples,
    PatchSize,
    Stride,
    Opacity,
    Target,
    TargetChannel,
    TargetClass,
    TargetTwoClasses,
    Channel,
    SecondClass,
    Steps,
    OpenPictureFirst,
    NoPositiveEvidence,
    Objective,
    Parameters,
    OutputShape,
    ReceptiveField,
    Total,
    PaperMapNote,
    MapAlone,
    AtlasMap,
    Saved,
    ClassMosaic,
    DataDistribution,
    ClickToOpenInClassify,
    PhotoFileNotHere,
    SearchClasses,
    ShowAllClasses,
    HideAllClasses,
    DistributionHint,
    UmapSettings,
    TsneSettings,
    OutliersOnTheEdge,
    LoadAtlas,
    PlaceImages,
    ClassColours,
    NoAtlas,
    GridLevel,
    Vectors,
    Cell,
    RealPatches,
    OpenInClassifier,
    PlacedImages,
    Show,
    Focus,
    Remove,
    ClearAll,
    SizePx,
    Labels,
    GridLines,
    GridLevels,
    GridLevelsHint,
    IconLevels,
    IconLevelsHint,
    BadGridLevels,
    ExportView,
    ExportWhole,
    BuildAtlas,
    SamplesPerImage,
    Neighbours,
    MinDist,
    IconSteps,
    Build,
    NoPaperViews,
    MosaicNote,
    Rotate3d,
    StageCollect,
    StageNeighbours,
    StageLayout,
    StageCells,
    StagePaperViews,
    StageIcons,
    FollowRun,
    FollowRunHint,
    OfferBestCheckpoint,
    RunningJobs,
    NothingToShow,
    Cancelled,
    TrainingAlreadyRunning,
    BuildAlreadyRunning,
    UseBestCheckpoint,
    GetFlowers17,
    GetFlowers17Hint,
    GetFlowers17FromFile,
    GetFlowers17FromFileHint,
    OpenLogFolder,
    LogFolderIs,
    BrowserUp,
    BrowserPath,
    BrowserGo,
    BrowserPlaces,
    BrowserRecent,
    BrowserHome,
    BrowserRoot,
    BrowserCannotList,
    BrowserEmpty,
    BrowserNoSuchPath,
    BrowserFileName,
    BrowserReplace,
    BrowserKeepExisting,
    BrowserChooseFolder,
    BrowserOpen,
    BrowserMultipleHint,
    BrowserTitleImage,
    BrowserTitlePlace,
    BrowserTitleCheckpoint,
    BrowserTitleImportNetwork,
    BrowserTitleDescriptions,
    BrowserTitleFolder,
    BrowserTitleAtlas,
    BrowserTitleArchive,
    BrowserTitleSave,
    OnlyInAtlas,
    BrowserTitleRunFolder,
    BrowserTitleTimeline,
    TimelineTab,
    OpenTimeline,
    TimelineOfModelRun,
    TimelineOfTrainingRun,
    TimelineOfTrainingRunHint,
    TimelineOfFolder,
    ExportAnimation,
    TimelineEpoch,
    TimelinePlay,
    TimelinePause,
    TimelineEmpty,
    TimelineWorking,
    TimelineWaiting,
    TimelineFrames,
    TimelinePoints,
    TimelineMoved,
    TimelineNoTrainingRun,
    TimelineNoModelRun,
    TimelineFramesList,
    TimelineLegend,
    TimelineLook,
    TimelineLookAtlas,
    TimelineLookPoints,
    TimelineNoPatches,
    TimelineCellActivations,
    SelectTool,
    ToolPan,
    ToolBox,
    ToolLasso,
    SelectionHint,
    ClearSelection,
    ExportSelectionList,
    CopySelectedPhotos,
    BrowserTitleSaveSelection,
    BrowserTitleCopyFolder,
    TabMistakes,
    MistakesTitle,
    MistakesIntro,
    MistakesFolder,
    MistakesNoFolder,
    ChooseFolder,
    FindMistakes,
    MistakesTrueClass,
    AllClasses,
    SurestFirst,
    LeastSureFirst,
    NoMistakes,
    ClickToExplain,
    ExplainThis,
    ShowOnAtlas,
    NearestTraining,
    Similarity,
}

impl T {
    pub fn get(self, lang: Lang) -> &'static str {
        let (zh, en) = match self {
            T::AppTitle => ("激活地图集", "Activation Atlas"),
            T::TabClassify => ("分类", "Classify"),
            T::TabTrain => ("训练", "Train"),
            T::TabExplain => ("解释", "Explain"),
            T::TabAtlas => ("地图集", "Atlas"),
            T::ReadImage => ("读取图片", "Read image"),
            T::Verify => ("验证", "Verify"),
            T::LanguageSwitch => ("English", "中文"),
            T::PrecisionMenu => ("计算精度", "Precision"),
            T::PrecisionAuto => ("自动：CPU 支持时用 bfloat16", "Auto: bfloat16 where the CPU has it"),
            T::PrecisionBf16 => {
                ("bfloat16（卷积和矩阵乘法；其余 float32）", "bfloat16 (convolutions and matrix products; float32 elsewhere)")
            }
            T::PrecisionFp32 => ("float32（处处）", "float32 (everywhere)"),
            T::PrecisionNoBf16 => (
                "这台电脑的 CPU 没有 bfloat16 指令（AMX 或 AVX512-BF16），模拟出来会比 float32 慢。",
                "This CPU has no bfloat16 instructions (AMX or AVX512-BF16); emulated, it would be slower than float32.",
            ),
            T::ModelMenu => ("模型", "Model"),
            T::FollowRun => ("跟随这次训练", "Follow this run"),
            T::FollowRunHint => (
                "每当训练得到新的最佳检查点，分类和解释就自动改用它",
                "Classify and explain switch to each new best checkpoint as the run finds it",
            ),
            T::OfferBestCheckpoint => {
                ("训练已结束。要用这次训练的最佳检查点来分类吗？", "The run has ended. Classify with its best checkpoint?")
            }
            T::RunningJobs => ("正在进行", "Running"),
            T::NothingToShow => ("这一层在这个视图里没有可显示的内容", "This layer has nothing to show for that view"),
            T::Cancelled => ("已取消", "Cancelled"),
            T::UseBestCheckpoint => ("用最佳检查点分类", "Classify with the best checkpoint"),
            T::GetFlowers17 => ("下载论文的数据集…", "Get the paper's data set…"),
            T::GetFlowers17FromFile => ("从已下载的文件…", "From a downloaded file…"),
            T::OpenLogFolder => ("打开日志文件夹", "Open the log folder"),
            T::LogFolderIs => ("日志文件夹：", "Log folder: "),
            T::BrowserUp => ("上一级", "Up"),
            T::BrowserPath => ("位置", "Location"),
            T::BrowserGo => ("前往", "Go"),
            T::BrowserPlaces => ("常用位置", "Places"),
            T::BrowserRecent => ("最近", "Recent"),
            T::BrowserHome => ("主文件夹", "Home"),
            T::BrowserRoot => ("文件系统", "File system"),
            T::BrowserCannotList => ("无法打开这个文件夹：", "Cannot open this folder:"),
            T::BrowserEmpty => ("（这里没有可选的文件）", "(nothing to choose here)"),
            T::BrowserNoSuchPath => {
                ("这个位置不存在，或不是可以选择的文件。", "That location does not exist or is not a file that can be chosen.")
            }
            T::BrowserFileName => ("文件名", "File name"),
            T::BrowserReplace => ("替换", "Replace"),
            T::BrowserKeepExisting => ("不替换，换个名字", "Keep it, choose another name"),
            T::BrowserChooseFolder => ("选择此文件夹", "Choose this folder"),
            T::BrowserOpen => ("打开", "Open"),
            T::BrowserMultipleHint => ("按住 Ctrl 可选择多个", "Hold Ctrl to choose several"),
            T::BrowserTitleImage => ("打开图片", "Open a picture"),
            T::BrowserTitlePlace => ("选择要放到地图集上的图片", "Choose pictures to place on the atlas"),
            T::BrowserTitleCheckpoint => ("打开检查点", "Open a checkpoint"),
            T::BrowserTitleImportNetwork => ("导入网络（PyTorch 权重文件）", "Import a network (PyTorch weights)"),
            T::ImportNetwork => ("导入网络…", "Import network…"),
            T::PaperNetworkOnly => (
                "这一项目前只适用于论文的网络；导入的网络可用模型结构、特征图、梯度归因、类激活图、遮挡分析和特征可视化",
                "This is for the paper's network so far; an imported network has the layer table, feature maps, gradients, class activation maps, occlusion and feature visualisation",
            ),
            T::ImportedWeights => ("导入的权重", "imported weights"),
            T::ImportNetworkHint => (
                "PyTorch 保存的权重（.pth、.pt、.bin 或 .safetensors）：EfficientNet-Lite0（efficientnet_pytorch 命名）、ResNet-18 或 ResNet-50（torchvision 命名），结构由张量名自动识别；文件只读取张量，不会执行其中的代码",
                "Weights saved by PyTorch (.pth, .pt, .bin or .safetensors): EfficientNet-Lite0 (efficientnet_pytorch names), ResNet-18 or ResNet-50 (torchvision names), recognised by their tensor names; only the tensors are read, nothing in the file runs",
            ),
            T::BrowserTitleDescriptions => ("打开介绍文件", "Open a description file"),
            T::BrowserTitleFolder => ("选择数据集文件夹", "Choose the data set folder"),
            T::BrowserTitleAtlas => ("打开地图集", "Open an atlas"),
            T::BrowserTitleArchive => ("选择 17flowers.tgz", "Choose 17flowers.tgz"),
            T::BrowserTitleSave => ("保存 PNG", "Save PNG"),
            T::BrowserTitleRunFolder => ("选择训练运行文件夹", "Choose a training run folder"),
            T::BrowserTitleTimeline => ("打开时间线", "Open a timeline"),
            T::TimelineTab => ("时间线", "Timeline"),
            T::OpenTimeline => ("打开时间线…", "Open timeline…"),
            T::TimelineOfModelRun => ("本模型所在运行的时间线", "Timeline of this model's run"),
            T::TimelineOfTrainingRun => ("训练运行的时间线", "Timeline of the training run"),
            T::TimelineOfTrainingRunHint => (
                "训练进行中时边训练边生成：每保存一个检查点就多一帧，训练结束时即完成",
                "While a run trains, frames are added as its checkpoints are saved: the timeline is ready when the run ends",
            ),
            T::TimelineOfFolder => ("选择运行文件夹…", "Choose a run folder…"),
            T::ExportAnimation => ("导出动画 (GIF/APNG)…", "Export animation (GIF/APNG)…"),
            T::TimelineEpoch => ("轮次", "Epoch"),
            T::TimelinePlay => ("▶ 播放", "▶ Play"),
            T::TimelinePause => ("⏸ 暂停", "⏸ Pause"),
            T::TimelineEmpty => (
                "时间线显示同一批激活位置在训练过程中各个检查点下的布局：每一帧从上一帧开始布局并对齐到上一帧，所以点的移动就是网络学到的变化。可从本模型所在的运行或正在进行的训练生成。",
                "A timeline lays out the same activations under each checkpoint of a training run: each frame starts from the one before and is aligned to it, so what moves is what the network learned. Make one from this model's run or from the run in progress.",
            ),
            T::TimelineWorking => ("正在生成时间线", "Building the timeline"),
            T::TimelineWaiting => ("等待下一个检查点（训练进行中）…", "Waiting for the next checkpoint (the run is training)…"),
            T::TimelineFrames => ("帧", "frames"),
            T::TimelinePoints => ("个激活位置", "activation positions"),
            T::TimelineMoved => ("与上一帧相比平均移动", "mean movement from the frame before"),
            T::TimelineNoTrainingRun => ("还没有训练运行：先在“训练”页开始训练", "No training run yet: start one in the Training tab"),
            T::TimelineNoModelRun => (
                "本模型不在训练运行文件夹中（没有 epoch-NNN 检查点）",
                "This model is not in a training run folder (no epoch-NNN checkpoints)",
            ),
            T::TimelineFramesList => ("各帧", "Frames"),
            T::TimelineLegend => ("类别", "Classes"),
            T::TimelineLook => ("显示：", "Show:"),
            T::TimelineLookAtlas => ("地图集（真实图块）", "Atlas (real patches)"),
            T::TimelineLookPoints => ("点（按类别着色）", "Points (class colours)"),
            T::TimelineNoPatches => (
                "这个时间线文件没有保存图块；重新生成时间线即可",
                "This timeline file keeps no patches; make the timeline again to get them",
            ),
            T::TimelineCellActivations => ("激活数", "Activations"),
            T::SelectTool => ("拖动：", "Drag to:"),
            T::ToolPan => ("平移", "Pan"),
            T::ToolBox => ("框选", "Box select"),
            T::ToolLasso => ("套索", "Lasso"),
            T::SelectionHint => (
                "按住鼠标左键拖动，圈出要选的照片；用右键或中键拖动平移。",
                "Hold the left button and drag around the photos to select; drag with the right or middle button to pan.",
            ),
            T::ClearSelection => ("清除选择", "Clear selection"),
            T::ExportSelectionList => ("导出列表（CSV/JSON）…", "Export list (CSV/JSON)…"),
            T::CopySelectedPhotos => ("复制照片到文件夹…", "Copy photos to a folder…"),
            T::BrowserTitleSaveSelection => ("保存所选照片的列表", "Save the list of selected photos"),
            T::BrowserTitleCopyFolder => ("选择复制照片的目标文件夹", "Choose the folder to copy the photos into"),
            T::TabMistakes => ("错误", "Mistakes"),
            T::MistakesTitle => ("模型在哪里出错", "Where the model goes wrong"),
            T::MistakesIntro => (
                "当前模型在验证照片（训练时没见过的照片）上答错的地方：每张附上两张 Grad-CAM 图（它认为是所选类别的依据、真实类别的依据）和在 fc2 层中最相近的训练照片。",
                "The model in use's wrong answers on its validation photos (photos it did not train on): each with two Grad-CAM maps (its evidence for the class it chose and for the true class) and the training photos nearest to it in fc2.",
            ),
            T::MistakesFolder => ("照片文件夹：", "Photo folder:"),
            T::MistakesNoFolder => ("（未选择：请选择每类一个子文件夹的数据集）", "(none: choose a data set with a sub-folder per class)"),
            T::ChooseFolder => ("选择文件夹…", "Choose folder…"),
            T::FindMistakes => ("查找错误", "Find mistakes"),
            T::MistakesTrueClass => ("真实类别：", "True class:"),
            T::AllClasses => ("全部类别", "All classes"),
            T::SurestFirst => ("最自信的错误在前", "Surest first"),
            T::LeastSureFirst => ("最不确定的在前", "Least sure first"),
            T::NoMistakes => ("没有答错的照片。", "No wrong answers."),
            T::ClickToExplain => ("点击在“解释”中查看", "Click to see it in Explain"),
            T::ExplainThis => ("解释", "Explain"),
            T::ShowOnAtlas => ("在地图集上显示", "Show on the atlas"),
            T::NearestTraining => ("fc2 中最相近的训练照片", "Nearest training photos in fc2"),
            T::Similarity => ("相似度", "similarity"),
            T::GetFlowers17FromFileHint => (
                "已经下载了 17flowers.tgz？选择它，按类别整理后作为训练数据集",
                "Already downloaded 17flowers.tgz? Choose it; it is sorted into class folders and used as the data set",
            ),
            T::OnlyInAtlas => (
                "原图不在这台电脑上；这是地图集里保存的网络输入（100×100）",
                "The photo is not on this computer; this is the network input kept in the atlas (100×100)",
            ),
            T::GetFlowers17Hint => (
                "牛津 17 类花卉数据集（约 58 MB，1360 张图片），下载后自动按类别整理，作为训练数据集",
                "The Oxford 17 Category Flower Dataset (about 58 MB, 1,360 pictures), sorted into class folders and used as the data set",
            ),
            T::TrainingAlreadyRunning => (
                "训练进行中：同时只能训练一个模型；分类、解释和地图集照常可用。",
                "Training in progress: one run at a time; classify, explain and the atlas keep working.",
            ),
            T::BuildAlreadyRunning => (
                "地图集构建中：同时只能构建一个；其他功能照常可用。",
                "An atlas is being built: one at a time; everything else keeps working.",
            ),
            T::LoadCheckpoint => ("加载检查点…", "Load checkpoint…"),
            T::RunCheckpoints => ("本次训练的检查点", "Checkpoints of this run"),
            T::LoadDescriptions => ("加载类别介绍文件…", "Load description file…"),
            T::UseShippedModel => ("使用随附的花卉模型（论文的网络）", "Use the shipped flowers model (the paper's network)"),
            T::UseShippedTransferModel => (
                "使用随附的花卉模型（EfficientNet-Lite0 迁移学习）",
                "Use the shipped flowers model (EfficientNet-Lite0, transfer learning)",
            ),
            T::UseShippedTransferModelHint => (
                "在 ImageNet 上预训练的 EfficientNet-Lite0，为 17 种花微调了最后几层，和它的地图集",
                "EfficientNet-Lite0 pretrained on ImageNet, its last blocks fine-tuned for the 17 flowers, and its atlas",
            ),
            T::ChooseUnseenFolder => ("选择它没见过的照片文件夹…", "Choose a folder of photos it has not seen…"),
            T::PressComputeHint => ("这个方法较慢，按“计算”开始", "This method is slow: press Compute to start"),
            T::UseShippedModelHint => (
                "应用自带的 17 类花卉模型（论文的网络）和它的地图集",
                "The 17-class flowers model that comes with the app (the paper's network) and its atlas",
            ),
            T::EditDescription => ("编辑介绍", "Edit description"),
            T::NoModel => ("未加载模型", "No model loaded"),
            T::LoadingModel => ("正在加载模型…", "Loading model…"),
            T::Classes => ("类别", "classes"),
            T::ValidationAccuracy => ("验证准确率", "validation accuracy"),
            T::Device => ("设备", "device"),
            T::Epoch => ("轮次", "epoch"),
            T::Idle => ("就绪", "Ready"),
            T::Working => ("处理中…", "Working…"),
            T::Cancel => ("取消", "Cancel"),
            T::Confidence => ("置信度", "Confidence"),
            T::TopFive => ("前五个类别", "Top 5 classes"),
            T::Introduction => ("简介", "Introduction"),
            T::NoDescription => (
                "（此类别暂无介绍。点“添加介绍”为模型的各个类别写上名称和介绍，或在“模型”菜单中加载介绍文件。）",
                "(No description for this class yet. Use “Add description” to name and introduce the model's classes, or load a description file from the Model menu.)",
            ),
            T::DropHint => {
                ("点击“读取图片”，或把图片拖到窗口上，或按 Ctrl+O。", "Click “Read image”, drop a picture on the window, or press Ctrl+O.")
            }
            T::NoImageYet => ("还没有图片", "No picture yet"),
            T::PressVerify => ("点击“验证”（或按回车）识别这张图片。", "Click “Verify” (or press Enter) to classify this picture."),
            T::Save => ("保存", "Save"),
            T::Close => ("关闭", "Close"),
            T::ChineseName => ("中文名", "Chinese name"),
            T::EnglishName => ("英文名", "English name"),
            T::IntroZh => ("中文简介", "Introduction (Chinese)"),
            T::IntroEn => ("英文简介", "Introduction (English)"),
            T::DescriptionsFrom => ("介绍来自", "Descriptions from"),
            T::DropToOpen => ("松开鼠标以打开图片", "Release to open the picture"),
            T::Dismiss => ("知道了", "Dismiss"),
            T::ModelNotReady => ("模型尚未就绪", "The model is not ready yet"),
            T::PickDataFolder => ("选择数据集文件夹…", "Choose data set folder…"),
            T::DatasetNone => {
                ("选择一个文件夹：每个类别一个子文件夹，里面放该类的图片。", "Choose a folder with one sub-folder of pictures per class.")
            }
            T::SkippedFiles => ("跳过的文件", "Skipped files"),
            T::TooSmallToSplit => ("图片少于 2 张，无法划分验证集：", "fewer than 2 pictures, cannot be split for validation:"),
            T::Hyperparameters => ("训练参数", "Training settings"),
            T::Epochs => ("轮数", "Epochs"),
            T::BatchSize => ("批大小", "Batch size"),
            T::LearningRate => ("学习率", "Learning rate"),
            T::Schedule => ("学习率策略", "Schedule"),
            T::ScheduleConstant => ("恒定", "constant"),
            T::ScheduleCosine => ("余弦衰减", "cosine"),
            T::ScheduleStep => ("阶梯衰减", "step"),
            T::WarmupEpochs => ("预热轮数", "Warm-up epochs"),
            T::WeightDecay => ("权重衰减", "Weight decay"),
            T::Flip => ("随机水平翻转", "Random flip"),
            T::CropArea => ("随机裁剪最小面积", "Crop min. area"),
            T::ColourJitter => ("颜色抖动", "Colour jitter"),
            T::RandomErasing => ("随机擦除", "Random erasing"),
            T::LabelSmoothing => ("标签平滑", "Label smoothing"),
            T::Mixup => ("Mixup α", "Mixup α"),
            T::CutMix => ("CutMix α", "CutMix α"),
            T::WeightAverage => ("权重滑动平均", "Weight average (EMA)"),
            T::Seed => ("随机种子", "Seed"),
            T::ValidationFraction => ("验证集比例", "Validation share"),
            T::CheckpointEvery => ("每隔几轮保存", "Save every"),
            T::KeepLast => ("保留检查点数", "Keep last"),
            T::HintEpochs => ("遍历训练集的次数（论文：10）", "passes over the training set (paper: 10)"),
            T::HintBatch => ("每步使用的图片数（论文：64）", "pictures per step (paper: 64)"),
            T::HintLr => ("Adam 步长（论文代码：0.001）", "Adam step size (paper's code: 0.001)"),
            T::HintSchedule => ("余弦衰减通常收敛得更好", "cosine decay usually ends better"),
            T::HintWarmup => ("开始时逐渐增大学习率", "ramp the rate up at the start"),
            T::HintWeightDecay => ("0 为论文的 Adam；0.01–0.1 可减轻过拟合", "0 is the paper's Adam; 0.01–0.1 fights overfitting"),
            T::HintFlip => ("花朵左右对称时有用", "helps when left/right do not matter"),
            T::HintCrop => ("1 为关闭；0.5 随机保留一半以上面积", "1 = off; 0.5 keeps at least half the area"),
            T::HintJitter => ("0 为关闭；亮度、对比度、饱和度随机变化", "0 = off; random brightness, contrast, saturation"),
            T::HintRandomErasing => (
                "每张训练图片用噪声遮住一块矩形的概率；0 为关闭",
                "Chance of covering a random box of each training image with noise; 0 = off",
            ),
            T::HintLabelSmoothing => (
                "目标不是纯粹的 0/1：正确类别得 1-ε，其余平分 ε；0 为关闭",
                "Targets are not pure 0/1: the true class gets 1-ε, the rest share ε; 0 = off",
            ),
            T::HintMixup => {
                ("把两张图片和它们的标签按比例混合；0 为关闭，常用 0.2", "Blend pairs of images and their labels; 0 = off, 0.2 is usual")
            }
            T::HintCutMix => {
                ("把一张图片的一块贴到另一张上，标签按面积混合；0 为关闭", "Paste a box of one image into another, labels by area; 0 = off")
            }
            T::HintWeightAverage => (
                "评估和保存权重的滑动平均（每步的衰减）；0 为关闭，常用 0.99",
                "Evaluate and save a moving average of the weights (decay per step); 0 = off, 0.99 is usual",
            ),
            T::HintSeed => ("相同种子得到相同结果", "same seed, same run"),
            T::HintValidation => ("每类留出用于验证的比例（论文：0.2）", "share of each class held out (paper: 0.2)"),
            T::HintCheckpointEvery => ("论文：每 2 轮", "paper: every 2 epochs"),
            T::HintKeepLast => ("另外始终保存最佳检查点", "the best checkpoint is kept besides"),
            T::StartTraining => ("开始训练", "Start training"),
            T::ResumeTraining => ("从检查点继续…", "Resume from checkpoint…"),
            T::RunFolder => ("保存到", "Saving to"),
            T::TrainingLoss => ("训练损失", "training loss"),
            T::ValidationLoss => ("验证损失", "validation loss"),
            T::TrainingAccuracy => ("训练准确率", "training accuracy"),
            T::ValidationAccuracyShort => ("验证准确率", "validation accuracy"),
            T::Step => ("步", "step"),
            T::ConfusionClickHint => {
                ("点击混淆矩阵的一个格子，查看其中的验证集照片", "Click a cell of the confusion matrix to see its validation photos")
            }
            T::PhotosCount => ("张照片", "photos"),
            T::NoPhotosInCell => ("这个格子里没有照片", "No photos in this cell"),
            T::ConfusionPhotoHint => (
                "按置信度从高到低排列；点击一张照片，在“分类”中打开并在“解释”中查看它的解释",
                "Surest first; click a photo to open it in Classify and see its explanation in Explain",
            ),
            T::LossChart => ("损失", "Loss"),
            T::AccuracyChart => ("准确率", "Accuracy"),
            T::EpochTable => ("每轮结果", "Epochs"),
            T::Duration => ("用时", "time"),
            T::ConfusionMatrix => ("混淆矩阵（验证集）", "Confusion matrix (validation)"),
            T::PerClass => ("各类别指标", "Per class"),
            T::Precision => ("精确率", "precision"),
            T::Recall => ("召回率", "recall"),
            T::F1 => ("F1", "F1"),
            T::Support => ("数量", "images"),
            T::Checkpoints => ("检查点", "Checkpoints"),
            T::UseForClassification => ("用于分类", "Use for classification"),
            T::InUse => ("使用中", "in use"),
            T::TrainingFinished => ("训练完成", "Training finished"),
            T::TrainingCancelled => ("训练已取消，已保存的检查点保持不变", "Training cancelled; saved checkpoints are intact"),
            T::ReadingImages => ("正在读取图片", "Reading pictures"),
            T::Best => ("最佳", "best"),
            T::TrueClass => ("真实类别", "true class"),
            T::PredictedClass => ("预测类别", "predicted"),
            T::ExplainSummary => ("模型结构", "Model summary"),
            T::ExplainFeatureMaps => ("特征图", "Feature maps"),
            T::ExplainPaperMap => ("论文特征图", "Paper's map"),
            T::ExplainFilters => ("卷积核", "Filters"),
            T::ExplainSaliency => ("梯度归因", "Gradient attribution"),
            T::ExplainGradCam => ("类激活图 (CAM)", "Class activation maps (CAM)"),
            T::ExplainOcclusion => ("遮挡分析", "Occlusion"),
            T::ExplainVisualize => ("特征可视化", "Feature visualisation"),
            T::Compute => ("计算", "Compute"),
            T::ExportPng => ("导出 PNG…", "Export PNG…"),
            T::Layer => ("层", "Layer"),
            T::Class => ("类别", "Class"),
            T::File => ("文件", "File"),
            T::AddDescription => ("添加介绍", "Add description"),
            T::DescribeClasses => ("类别介绍", "Class descriptions"),
            T::ClassesDescribed => ("已填写的类别", "Classes described"),
            T::SavedTo => ("保存到", "Saved to"),
            T::ClassId => ("类别编号（训练文件夹名）", "Class id (training folder name)"),
            T::AtlasDataFolder => ("图片文件夹", "Image folder"),
            T::ChooseAtlasDataFolder => ("选择文件夹…", "Choose folder…"),
            T::TrainStart => ("起点：", "Start from:"),
            T::StartScratch => ("论文的网络，从头训练", "the paper's network, from scratch"),
            T::StartPretrained => ("预训练的网络（只训练最后一层）", "a pretrained network (last layer only)"),
            T::StartScratchExplained => (
                "网络从随机的权重开始，只从这个文件夹的照片里学：几分钟到几十分钟。",
                "The network starts from random weights and learns from this folder's photos alone: minutes to tens of minutes.",
            ),
            T::StartPretrainedExplained => (
                "这个网络已经在一百多万张照片上学会了看边缘、纹理和形状；只为你的类别训练一个新的最后一层，几十秒就好，通常也准确得多。",
                "This network has already learnt edges, textures and shapes from over a million photos; only a new last layer is trained for your classes: under a minute, and usually far more accurate.",
            ),
            T::StartFinetune => ("预训练的网络（微调最后几层）", "a pretrained network (fine-tune its last blocks)"),
            T::PretrainedFrom => ("预训练的网络：", "Pretrained network:"),
            T::BackboneShipped => ("EfficientNet-Lite0（ImageNet，随应用提供）", "EfficientNet-Lite0 (ImageNet, ships with the app)"),
            T::BackboneOpen => ("打开的网络：", "the open network: "),
            T::HintBackboneImport => (
                "也可以从你导入的网络开始（EfficientNet-Lite0、ResNet-18/50）：先在 模型 → 导入网络… 里导入并打开它。",
                "You can also start from a network you imported (EfficientNet-Lite0, ResNet-18/50): import and open it first with Model → Import network….",
            ),
            T::StartFinetuneExplained => (
                "同一个预训练网络，先训练新的最后一层，再用随机裁剪、翻转过的照片一起调整它最后几层：几分钟，常常比只训练最后一层更准。",
                "The same pretrained network: a new last layer first, then its last blocks adjusted too, on randomly cropped and flipped photos: a few minutes, often more accurate than the last layer alone.",
            ),
            T::Unfreeze => ("微调的层数", "Blocks fine-tuned"),
            T::HintUnfreeze => (
                "网络最后几块一起训练（最后的 1×1 卷积算一块）；其余保持预训练的样子。越多越慢，也越容易过拟合。",
                "How many of the network's last blocks learn too (its last 1x1 convolution counts as one); the rest stay as pretrained. More is slower and overfits more easily.",
            ),
            T::AtlasOutputsMapped => (
                "这个网络学的是别的类别：文件夹的每一类，归因于网络对这一类照片最常给出的输出。",
                "This network knows other classes: each class of the folder is attributed to the output the network gives its photos most.",
            ),
            T::AtlasFolderOtherClasses => ("注意：模型不认识这些类别文件夹：", "Note: the model does not know these class folders:"),
            T::AtlasFolderMissing => {
                ("请先选择一个按类别分文件夹的图片文件夹。", "Choose a folder with one sub-folder of images per class first.")
            }
            T::PredictedClassOption => ("预测的类别", "predicted class"),
            T::Normalisation => ("归一化", "Normalisation"),
            T::PerChannel => ("每个通道", "per channel"),
            T::PerLayer => ("整层", "per layer"),
            T::Global => ("所有层", "all layers"),
            T::AttributionMethodLabel => ("方法", "Method"),
            T::TintByAttribution => ("按归因着色", "Tint by attribution to"),
            T::TintOff => ("不着色", "off"),
            T::CompareSameClass => ("对比需要两个不同的类别。", "A comparison needs two different classes."),
            T::AtlasFocusLabel => ("地图集内容", "Atlas of"),
            T::FocusAll => ("全部激活", "every activation"),
            T::FocusClass => ("一个类别（类别激活地图集）", "one class (class activation atlas)"),
            T::FocusCompare => ("两个类别对比", "two classes compared"),
            T::CellPictureLabel => ("格子显示", "Cells show"),
            T::CellPictureSynthetic => ("特征可视化", "feature visualisation"),
            T::CellPictureMean => ("真实图块的平均", "mean of the real patches"),
            T::CellPictureTypical => ("最典型的真实图块", "most typical real patch"),
            T::IgSteps => ("积分步数", "Path steps"),
            T::IgBaselineLabel => ("基线图", "Baseline"),
            T::BaselineBlack => ("黑色", "black"),
            T::BaselineBlurred => ("模糊原图", "blurred picture"),
            T::BaselineNoise => ("随机噪声", "noise"),
            T::SanityCheck => ("合理性检查…", "Sanity check…"),
            T::SanityHeading => (
                "合理性检查：从最后一层往下逐层把权重换成随机数，看热力图变了多少（相关越低越好）",
                "Sanity check: the weights are replaced by random ones from the last layer down, layer by layer; how much does the map change (lower similarity is better)",
            ),
            T::SanityRandomisedDownTo => ("随机化到", "Random down to"),
            T::SanityInsensitive => (
                "警告：权重全部随机后热力图几乎不变——这种方法显示的不是网络学到的东西。",
                "Warning: with every weight random the map barely changes - this method does not show what the network learned.",
            ),
            T::SanitySensitive => (
                "通过：权重随机后热力图明显改变，它取决于网络学到的东西。",
                "Passed: with random weights the map changes clearly; it depends on what the network learned.",
            ),
            T::FaithfulnessHeading => (
                "可信度：按热力图从最重要的像素开始删除（换成模糊图）或插入",
                "Faithfulness: pixels deleted (replaced by a blurred copy) or inserted, most important first",
            ),
            T::FaithfulnessMap => ("本热力图", "This map"),
            T::FaithfulnessMapColumn => ("热力图", "Map"),
            T::FaithfulnessRandom => ("随机图", "Random map"),
            T::FaithfulnessSobel => ("Sobel 边缘图", "Sobel edges"),
            T::DeletionAuc => ("删除 AUC ↓", "Deletion AUC ↓"),
            T::InsertionAuc => ("插入 AUC ↑", "Insertion AUC ↑"),
            T::AverageDrop => ("平均下降 ↓", "Average drop ↓"),
            T::ConfidenceIncreased => ("置信度上升", "Confidence up"),
            T::DeletionCurve => ("删除", "Deletion"),
            T::InsertionCurve => ("插入", "Insertion"),
            T::FractionOfPixels => ("像素比例", "Fraction of pixels"),
            T::ClassProbability => ("类别概率", "Class probability"),
            T::Yes => ("是", "yes"),
            T::No => ("否", "no"),
            T::Samples => ("样本数", "Samples"),
            T::PatchSize => ("遮挡块大小", "Patch size"),
            T::Stride => ("步长", "Stride"),
            T::Opacity => ("叠加不透明度", "Overlay opacity"),
            T::Target => ("目标", "Target"),
            T::TargetChannel => ("某层的一个通道", "a channel of a layer"),
            T::TargetClass => ("一个类别", "a class"),
            T::TargetTwoClasses => ("两个类别同时", "two classes at once"),
            T::Channel => ("通道", "Channel"),
            T::SecondClass => ("第二个类别", "Second class"),
            T::Steps => ("步数", "Steps"),
            T::OpenPictureFirst => ("请先在“分类”面板读取一张图片。", "Open a picture in the Classify panel first."),
            T::NoPositiveEvidence => {
                ("这一层没有支持该类别的正向证据：热力图为空。", "This layer shows no positive evidence for the class: the map is empty.")
            }
            T::Objective => ("目标值", "objective"),
            T::Parameters => ("参数", "parameters"),
            T::OutputShape => ("输出形状", "output shape"),
            T::ReceptiveField => ("感受野", "receptive field"),
            T::Total => ("合计", "total"),
            T::AtlasMap => ("激活地图集", "Atlas"),
            T::Saved => ("已保存", "Saved"),
            T::ClassMosaic => ("类别拼图", "Class mosaic"),
            T::DataDistribution => ("数据分布", "Data distribution"),
            T::ClickToOpenInClassify => ("点击在“分类”中打开", "Click to open it in Classify"),
            T::PhotoFileNotHere => (
                "这张照片的文件不在这台机器上（地图集只带了网络看到的 100×100 图）；在“构建”表单中选择它的数据集文件夹即可打开",
                "This photo's file is not on this machine (the atlas carries only the 100×100 picture the network saw); choose its data set folder in the build form to open it",
            ),
            T::SearchClasses => ("搜索类别", "Search classes"),
            T::ShowAllClasses => ("全部显示", "Show all"),
            T::HideAllClasses => ("全部隐藏", "Hide all"),
            T::DistributionHint => (
                "每个点是一张照片（其 conv2 最大激活向量的布局）。勾选要显示的类别；指针停在点上可看缩略图，点击在“分类”中打开；在“分类”中打开的照片在四个视图中都用白圈标出。",
                "Each point is a photo (a layout of its conv2 max-activation vector). Tick the classes to show; hover a point for its thumbnail, click to open it in Classify; the photo open in Classify is ringed in white in all four views.",
            ),
            T::LoadAtlas => ("加载地图集…", "Load atlas…"),
            T::PlaceImages => ("放置图片…", "Place pictures…"),
            T::ClassColours => ("按类别着色", "Class colours"),
            T::NoAtlas => ("还没有地图集：加载一个，或在右侧构建。", "No atlas yet: load one, or build one on the right."),
            T::GridLevel => ("网格", "grid"),
            T::Vectors => ("个向量", "vectors"),
            T::Cell => ("单元格", "Cell"),
            T::RealPatches => {
                ("产生这些激活的真实图片片段（点击在分类面板打开）：", "Real image patches behind it (click to open in the classifier):")
            }
            T::OpenInClassifier => ("点击在“分类”和“解释”中打开", "click to open it in Classify and Explain"),
            T::PlacedImages => ("放置的图片", "Placed pictures"),
            T::Show => ("显示", "show"),
            T::Focus => ("定位", "Focus"),
            T::Remove => ("移除", "Remove"),
            T::ClearAll => ("全部清除", "Clear all"),
            T::SizePx => ("尺寸（像素）", "Size (px)"),
            T::Labels => ("类别名称和图例", "Labels and legend"),
            T::GridLines => ("网格线", "Grid lines"),
            T::GridLevels => ("网格层级", "Grid levels"),
            T::GridLevelsHint => (
                "每边的单元格数，用空格分隔，例如 10 20 40 80：放大时使用更细的网格",
                "Cells per side, separated by spaces, e.g. 10 20 40 80: finer grids are used as you zoom in",
            ),
            T::IconLevels => ("图标层级", "Icon levels"),
            T::IconLevelsHint => {
                ("为哪些网格渲染图标（须在网格层级中）；越细越慢", "Which grids get icons (must be among the grid levels); finer is slower")
            }
            T::BadGridLevels => (
                "网格层级须为 2 到 256 之间的数字，图标层级须是其中之一",
                "Grid levels must be numbers from 2 to 256, and icon levels must be among them",
            ),
            T::ExportView => ("导出当前视图…", "Export view…"),
            T::ExportWhole => ("导出整个地图集…", "Export whole atlas…"),
            T::BuildAtlas => ("构建新的地图集", "Build a new atlas"),
            T::SamplesPerImage => ("每张图片采样位置", "Samples per image"),
            T::Neighbours => ("UMAP 邻居数", "UMAP neighbours"),
            T::MinDist => ("UMAP 最小距离", "UMAP min. distance"),
            T::IconSteps => ("图标优化步数", "Icon steps"),
            T::Build => ("构建", "Build"),
            T::UmapSettings => (
                "每张照片连向它最近的 {k} 张（n_neighbors {k}），点最近可挨到 {d}（min_dist {d}）",
                "each photo joined to its {k} nearest (n_neighbors {k}); points may pack to {d} apart (min_dist {d})",
            ),
            T::TsneSettings => (
                "每张照片约顾及 {p} 个邻居（困惑度 {p}），迭代 {n} 次",
                "each photo weighs about {p} neighbours (perplexity {p}); {n} iterations",
            ),
            T::OutliersOnTheEdge => (
                "◇ 空心菱形：离其余照片很远的照片，画在图的边上（视野按大多数点取定，几张远点不再把其余挤成一团）。",
                "◇ Hollow diamonds: photos far from the rest, drawn on the plot's edge (the view is framed by most of the points, so a few far ones no longer squeeze the rest into clumps).",
            ),
            T::NoPaperViews => ("这个地图集没有论文视图。", "This atlas has no paper views."),
            T::MosaicNote => (
                "每类图片在 conv2 层最活跃的那张特征图，相似的类别排在一起（本软件所依据的论文用这张图比较各类花，见论文第 5 节）。",
                "Per class, each picture's conv2 feature map of its most active channel, similar classes next to each other (the paper this app rebuilds compares the flower classes with this view, in its section 5).",
            ),
            T::Rotate3d => ("旋转 3-D 视图", "Rotate the 3-D views"),
            T::StageCollect => ("收集激活", "Collecting activations"),
            T::StageNeighbours => ("最近邻", "Nearest neighbours"),
            T::StageLayout => ("UMAP 布局", "UMAP layout"),
            T::StageCells => ("网格", "Cells"),
            T::StagePaperViews => ("论文视图", "Paper views"),
            T::StageIcons => ("渲染图标", "Rendering icons"),
            T::MapAlone => ("单独的热力图", "The map alone"),
            T::PaperMapNote => (
                "conv2 中最大值最大的通道，按论文方法归一化：(x−均值)/标准差×64+128",
                "conv2's channel with the largest maximum, normalised as the paper does: (x − mean)/std × 64 + 128",
            ),
        };
        match lang {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }
}

/// What the process computes in now, and what the CPU offers, for the 计算精度 menu.
pub fn precision_in_use(lang: Lang, support: crate::engine::precision::Bf16Support) -> String {
    use crate::engine::precision::{Bf16Support, describe};
    match (lang, support) {
        (Lang::Zh, Bf16Support::None) => format!("现在：{}（这台 CPU 没有 bfloat16 指令）", describe()),
        (Lang::Zh, support) => format!("现在：{}（CPU 有 {}）", describe(), support.name()),
        (Lang::En, Bf16Support::None) => format!("Now: {} (this CPU has no bfloat16 instructions)", describe()),
        (Lang::En, support) => format!("Now: {} (the CPU has {})", describe(), support.name()),
    }
}

/// The device a model runs on, with the arithmetic in use on the CPU ("CPU · bfloat16 (AMX-BF16)").
pub fn device_with_precision(device: &str) -> String {
    match crate::engine::precision::computation() {
        crate::engine::precision::Computation::Mixed if device == "CPU" => format!("{device} · {}", crate::engine::precision::describe()),
        _ => device.to_string(),
    }
}

/// "Cannot open model: …"
pub fn model_failed(lang: Lang, message: &str) -> String {
    match lang {
        Lang::Zh => format!("无法加载模型：{message}"),
        Lang::En => format!("Cannot load the model: {message}"),
    }
}

/// "Cannot read image: …" (the message names the file).
pub fn image_failed(lang: Lang, message: &str) -> String {
    match lang {
        Lang::Zh => format!("无法读取图片：{message}"),
        Lang::En => format!("Cannot read the image: {message}"),
    }
}

pub fn job_failed(lang: Lang, message: &str) -> String {
    match lang {
        Lang::Zh => format!("操作失败：{message}"),
        Lang::En => format!("Failed: {message}"),
    }
}

pub fn worker_recovered(lang: Lang, message: &str) -> String {
    match lang {
        Lang::Zh => format!("后台任务出错，已恢复，其他功能照常：{message}"),
        Lang::En => format!("A background job crashed and was recovered; everything else goes on: {message}"),
    }
}

pub fn descriptions_failed(lang: Lang, message: &str) -> String {
    match lang {
        Lang::Zh => format!("介绍文件有误：{message}"),
        Lang::En => format!("Description file problem: {message}"),
    }
}

pub fn picture_size(lang: Lang, width: u32, height: u32) -> String {
    match lang {
        Lang::Zh => format!("{width} × {height} 像素"),
        Lang::En => format!("{width} × {height} px"),
    }
}

pub fn dataset_line(lang: Lang, classes: usize, images: usize, skipped: usize) -> String {
    match lang {
        Lang::Zh => format!("{classes} 个类别，{images} 张图片，跳过 {skipped} 个文件"),
        Lang::En => format!("{classes} classes, {images} pictures, {skipped} files skipped"),
    }
}

pub fn progress_line(lang: Lang, epoch: u32, epochs: u32, step: usize, steps: usize) -> String {
    match lang {
        Lang::Zh => format!("第 {epoch}/{epochs} 轮 · 第 {step}/{steps} 步"),
        Lang::En => format!("epoch {epoch}/{epochs} · step {step}/{steps}"),
    }
}

/// A job's name in the status bar.
pub fn job_kind(lang: Lang, kind: JobKind) -> &'static str {
    let (zh, en) = match kind {
        JobKind::LoadModel => ("加载模型", "Loading model"),
        JobKind::OpenImage => ("读取图片", "Opening picture"),
        JobKind::Classify => ("分类", "Classifying"),
        JobKind::Explain => ("解释", "Explaining"),
        JobKind::ScanDataset => ("读取数据集", "Reading data set"),
        JobKind::ScanFolder => ("查看文件夹", "Looking into a folder"),
        JobKind::ListCheckpoints => ("列出检查点", "Listing checkpoints"),
        JobKind::LoadAtlas => ("加载地图集", "Loading atlas"),
        JobKind::PlaceImages => ("放置图片", "Placing pictures"),
        JobKind::CellPatches => ("读取图块", "Reading patches"),
        JobKind::ExportAtlas => ("导出地图集", "Exporting atlas"),
        JobKind::Train => ("训练", "Training"),
        JobKind::BuildAtlas => ("构建地图集", "Building atlas"),
        JobKind::GetDataset => ("下载数据集", "Getting data set"),
        JobKind::BuildTimeline => ("生成时间线", "Building timeline"),
        JobKind::ReadPictures => ("读取照片", "Reading photos"),
        JobKind::LoadTimeline => ("加载时间线", "Loading timeline"),
        JobKind::ExportTimeline => ("导出动画", "Exporting animation"),
        JobKind::SaveSelection => ("导出所选照片列表", "Saving the selection"),
        JobKind::CopyPhotos => ("复制照片", "Copying photos"),
        JobKind::FindMistakes => ("查找错误", "Finding mistakes"),
        JobKind::SimulateCrash => ("测试崩溃", "Test crash"),
    };
    match lang {
        Lang::Zh => zh,
        Lang::En => en,
    }
}

/// The caption of the picture a network is given, `side` pixels square.
pub fn as_network_sees(lang: Lang, side: i64) -> String {
    match lang {
        Lang::Zh => format!("网络看到的图片（{side}×{side}）"),
        Lang::En => format!("The picture as the network sees it ({side}×{side})"),
    }
}

/// A failed job, worded for the window. Messages from the engine name the file and the reason.
pub fn job_error(lang: Lang, error: &JobError) -> String {
    let zh = lang == Lang::Zh;
    match error {
        JobError::NoModel => T::ModelNotReady.get(lang).to_string(),
        JobError::NoPicture => T::OpenPictureFirst.get(lang).to_string(),
        JobError::NoAtlas => T::NoAtlas.get(lang).to_string(),
        JobError::AtlasOfOtherModel { path, model_path } => {
            let (path, model) = (path.display(), model_path.display());
            if zh {
                format!("{path} 是由另一个模型（{model}）构建的，请先加载那个模型")
            } else {
                format!("{path} was built from another model ({model}); load that model first")
            }
        }
        JobError::NoGrid(size) => {
            if zh {
                format!("这个地图集没有 {size}×{size} 的网格")
            } else {
                format!("the atlas has no {size}×{size} grid")
            }
        }
        JobError::NothingToShow => T::NothingToShow.get(lang).to_string(),
        JobError::Cancelled => T::Cancelled.get(lang).to_string(),
        JobError::Image { message, .. } => image_failed(lang, message),
        JobError::Checkpoint { message, .. } => model_failed(lang, message),
        JobError::GetDataset { message } => {
            if zh {
                format!("无法获取论文的数据集：{message}。若已用浏览器下载了 17flowers.tgz，可点“从已下载的文件…”选择它。")
            } else {
                format!(
                    "Could not get the paper's data set: {message}. If you downloaded 17flowers.tgz with a browser, choose it with “From a downloaded file…”."
                )
            }
        }
        JobError::RunWithoutDataFolder => {
            if zh {
                "这次训练没有记下它用的照片文件夹（随应用附带的模型也没有）。请在 地图集 → 激活地图集 → 构建新的地图集 里点“选择文件夹…”选好照片文件夹，再回到时间线。".to_string()
            } else {
                "This training run does not record which photo folder it used (nor does the model that comes with the app). Choose the photo folder under Atlas → Build a new atlas → Choose folder…, then come back to the timeline.".to_string()
            }
        }
        JobError::Dataset { message } => {
            if zh {
                format!("无法读取数据集：{message}")
            } else {
                format!("Cannot read the data set: {message}")
            }
        }
        JobError::Training { message } => {
            if zh {
                format!("训练失败：{message}")
            } else {
                format!("Training failed: {message}")
            }
        }
        JobError::Atlas { message } => {
            if zh {
                format!("地图集出错：{message}")
            } else {
                format!("Atlas problem: {message}")
            }
        }
        JobError::Write { path, message } => {
            if zh {
                format!("无法写入 {}：{message}", path.display())
            } else {
                format!("Cannot write {}: {message}", path.display())
            }
        }
        JobError::AlreadyRunning(kind) => {
            let what = job_kind(lang, *kind);
            if zh {
                format!("已有一个“{what}”任务在进行，同时只能有一个；请等它结束或先取消")
            } else {
                format!("{what} is already running; only one at a time: wait for it or cancel it first")
            }
        }
        JobError::NotApplicable { message } => {
            if zh {
                format!("此视图不适用于当前网络：{message}")
            } else {
                format!("Not for this network: {message}")
            }
        }
        JobError::Panicked { message } => worker_recovered(lang, message),
    }
}

/// Caption of a feature-map montage.
pub fn feature_maps_caption(lang: Lang, layer: &str, channels: usize) -> String {
    match lang {
        Lang::Zh => format!("{layer}：{channels} 个通道"),
        Lang::En => format!("{layer}: {channels} channels"),
    }
}

/// Caption of the paper's feature map.
pub fn paper_map_caption(lang: Lang, channel: usize) -> String {
    match lang {
        Lang::Zh => format!("conv2 第 {channel} 通道"),
        Lang::En => format!("conv2 channel {channel}"),
    }
}

/// Caption of an occlusion map: the class and its probability without occlusion.
/// A cell's mean attribution to the tint class, on hover.
pub fn cell_attribution_to(lang: Lang, phrase: &str) -> String {
    match lang {
        Lang::Zh => format!("着色按格子的平均归因：{phrase}"),
        Lang::En => format!("Tinted by the cell's mean attribution: {phrase}"),
    }
}

/// The axis of a two-class comparison atlas.
pub fn compare_axis(lang: Lang, first: &str, second: &str) -> String {
    match lang {
        Lang::Zh => format!("← 更支持 {second}　　　　更支持 {first} →"),
        Lang::En => format!("← pushes towards {second}        pushes towards {first} →"),
    }
}

/// The faithfulness panel's one plain sentence.
pub fn deletion_sentence(lang: Lang, class: &str, before: f32, after_map: f32, after_random: f32) -> String {
    let (before, map, random) = (before * 100.0, after_map * 100.0, after_random * 100.0);
    match lang {
        Lang::Zh => format!("删除最重要的 10% 像素，{class} 的概率从 {before:.0}% 降到 {map:.0}%；随机删除 10% 则降到 {random:.0}%。"),
        Lang::En => format!(
            "Removing the 10% most important pixels drops {class} from {before:.0}% to {map:.0}%; a random 10% drops it to {random:.0}%."
        ),
    }
}

pub fn occlusion_caption(lang: Lang, class: &str, probability: f32) -> String {
    match lang {
        Lang::Zh => format!("{class} · 未遮挡时概率 {probability:.3}"),
        Lang::En => format!("{class} · p = {probability:.3} unoccluded"),
    }
}

/// The status bar's button that stops one job: "取消训练", "Cancel: Training".
/// The built-in browser's question before a save replaces a file.
pub fn replace_existing(lang: Lang, name: &str) -> String {
    match lang {
        Lang::Zh => format!("“{name}”已经存在。要用新文件替换它吗？"),
        Lang::En => format!("“{name}” already exists. Replace it with the new file?"),
    }
}

/// A job's time left, from its pace so far: "剩余约 1:23", "about 1:23 left".
pub fn time_left(lang: Lang, left: std::time::Duration) -> String {
    let seconds = left.as_secs();
    let clock = format!("{}:{:02}", seconds / 60, seconds % 60);
    match lang {
        Lang::Zh => format!("剩余约 {clock}"),
        Lang::En => format!("about {clock} left"),
    }
}

/// A job queued behind another on the interactive worker.
pub fn waiting_for(lang: Lang, before: JobKind) -> String {
    match lang {
        Lang::Zh => format!("排队中：等“{}”做完", job_kind(lang, before)),
        Lang::En => format!("Waiting for: {}", job_kind(lang, before)),
    }
}

pub fn cancel_job(lang: Lang, kind: JobKind) -> String {
    match lang {
        Lang::Zh => format!("取消{}", job_kind(lang, kind)),
        Lang::En => format!("Cancel: {}", job_kind(lang, kind)),
    }
}

/// A cell's images could not be found (an atlas without embedded images whose data moved).
pub fn missing_patches(lang: Lang, count: usize) -> String {
    match lang {
        Lang::Zh => format!("找不到这个单元格的 {count} 张原图（这个地图集没有内嵌图片，原图应在以下位置）："),
        Lang::En => format!("{count} of this cell's images were not found (this atlas has no embedded images; they were expected here):"),
    }
}

/// A model's k-fold cross-validation accuracy, mean ± sd, for the status line: the 12-view figure
/// first where the report has it, since that is how the classifier window judges a photo.
/// A model's cross-validated accuracy from the photo alone, short enough for a menu entry.
pub fn cross_validated_short(lang: Lang, cv: &crate::engine::cross_validation::CrossValidationSummary) -> String {
    match lang {
        Lang::Zh => format!("：交叉验证 {:.1}%", cv.mean_accuracy * 100.0),
        Lang::En => format!(": cross-validated {:.1}%", cv.mean_accuracy * 100.0),
    }
}

pub fn cross_validation_estimate(lang: Lang, cv: &crate::engine::cross_validation::CrossValidationSummary) -> String {
    // "2 × 5 折": two cross-validations with their own seeds, pooled.
    let folds = cv.folds_label("×");
    let single = (cv.mean_accuracy * 100.0, cv.sd_accuracy * 100.0);
    match (lang, &cv.views) {
        (Lang::Zh, Some(views)) => format!(
            "没见过的照片答对 {:.1}% ± {:.1}%（{folds} 折交叉验证，每张看 12 个视图；只看原图 {:.1}% ± {:.1}%）",
            views.mean_accuracy * 100.0,
            views.sd_accuracy * 100.0,
            single.0,
            single.1
        ),
        (Lang::En, Some(views)) => format!(
            "{:.1}% ± {:.1}% right on photos it never saw ({folds}-fold cross-validation, 12 views a photo; the photo alone {:.1}% ± {:.1}%)",
            views.mean_accuracy * 100.0,
            views.sd_accuracy * 100.0,
            single.0,
            single.1
        ),
        (Lang::Zh, None) => format!("没见过的照片答对 {:.1}% ± {:.1}%（{folds} 折交叉验证）", single.0, single.1),
        (Lang::En, None) => format!("{:.1}% ± {:.1}% right on photos it never saw ({folds}-fold cross-validation)", single.0, single.1),
    }
}

/// What k-fold cross-validation is, on hover wherever its figure is shown.
pub fn cross_validation_definition(lang: Lang, cv: &crate::engine::cross_validation::CrossValidationSummary) -> String {
    let (k, repeats) = (cv.folds, cv.repeats.max(1));
    match lang {
        Lang::Zh => format!(
            "{k} 折交叉验证：把照片分成 {k} 份，每次用其中 {} 份训练一个新模型、用剩下的 1 份检验它，轮流 {k} 次{}。得到的是模型在没见过的照片上的准确率；± 后是各次之间的标准差。12 个视图：每张照片连同它的翻转和裁剪一起看，再取平均。",
            k.saturating_sub(1),
            if repeats > 1 { format!("；换随机种子再分 {repeats} 遍") } else { String::new() }
        ),
        Lang::En => format!(
            "{k}-fold cross-validation: the photos are split into {k} parts; a new model trains on {} of them and is tested on the one left, {k} times in turn{}. It tells how often the model is right on photos it never saw; ± is the spread between the runs. 12 views: each photo is looked at with its flips and crops, and the answers averaged.",
            k.saturating_sub(1),
            if repeats > 1 { format!(", and the whole was repeated {repeats} times with other random splits") } else { String::new() }
        ),
    }
}

/// How strongly a cell's activations push the model towards a class, in words with the value:
/// `value` measured against `largest`, the largest such value on the atlas level shown.
pub fn attribution_in_words(lang: Lang, class: &str, value: f32, largest: f32) -> String {
    let share = if largest > 0.0 { value / largest } else { 0.0 };
    let number = super::atlas_panel::format_attribution(value);
    let words = match (lang, share) {
        (Lang::Zh, s) if s >= 0.5 => "强烈支持",
        (Lang::Zh, s) if s >= 0.15 => "支持",
        (Lang::Zh, s) if s > 0.0 => "略微支持",
        (Lang::Zh, _) => "不支持",
        (Lang::En, s) if s >= 0.5 => "strong evidence for",
        (Lang::En, s) if s >= 0.15 => "evidence for",
        (Lang::En, s) if s > 0.0 => "slight evidence for",
        (Lang::En, _) => "no evidence for",
    };
    match lang {
        Lang::Zh => format!("{words}“{class}”（归因 {number}）"),
        Lang::En => format!("{words} {class} (attribution {number})"),
    }
}

/// An icon's fidelity, on hover: how well it shows what its cell means, in words with the cosine.
pub fn icon_fidelity(lang: Lang, cosine: f32) -> String {
    let words = match (lang, cosine) {
        (Lang::Zh, c) if c >= 0.9 => "图标很贴合这个格子",
        (Lang::Zh, c) if c >= 0.7 => "图标大致贴合这个格子",
        (Lang::Zh, _) => "图标与这个格子不太贴合",
        (Lang::En, c) if c >= 0.9 => "the icon fits its cell closely",
        (Lang::En, c) if c >= 0.7 => "the icon roughly fits its cell",
        (Lang::En, _) => "the icon fits its cell poorly",
    };
    match lang {
        Lang::Zh => format!("{words}（方向余弦 {cosine:.3}，1 为完全一致）"),
        Lang::En => format!("{words} (direction cosine {cosine:.3}, 1 is a perfect match)"),
    }
}

/// What attribution and icon fidelity mean, on hover in the cell inspector.
pub fn cell_numbers_definition(lang: Lang) -> &'static str {
    match lang {
        Lang::Zh => {
            "归因：这个格子的平均激活沿着让模型更确信这一类的方向走了多远（激活 × 梯度，对这一类的分数求导）。强弱按这一层地图上最大的值来分：一半以上为“强烈支持”。方向余弦：图标在这一层的激活方向与格子平均方向的夹角余弦，越接近 1，图标越忠实于格子。"
        }
        Lang::En => {
            "Attribution: how far the cell's mean activation goes in the direction that makes the model surer of the class (activation × gradient of the class score). Strength is judged against the largest value on this level of the map: half of it or more is \"strong\". Direction cosine: the cosine between the icon's activation direction at this layer and the cell's mean direction; the closer to 1, the more faithful the icon."
        }
    }
}

/// What 错误 found.
pub fn mistakes_summary(lang: Lang, wrong: usize, examined: usize, held_out: bool) -> String {
    let accuracy = 100.0 * (1.0 - wrong as f64 / examined.max(1) as f64);
    match (lang, held_out) {
        (Lang::Zh, true) => format!("{examined} 张验证照片中答错 {wrong} 张（准确率 {accuracy:.1}%）"),
        (Lang::Zh, false) => {
            format!(
                "{examined} 张照片中答错 {wrong} 张（准确率 {accuracy:.1}%）；模型没有留出验证照片（或没有记录），这些照片可能参与过训练"
            )
        }
        (Lang::En, true) => format!("{wrong} wrong of {examined} validation photos (accuracy {accuracy:.1}%)"),
        (Lang::En, false) => format!(
            "{wrong} wrong of {examined} photos (accuracy {accuracy:.1}%); the model kept no validation photos aside (or did not record them), so it may have trained on them"
        ),
    }
}

/// Under a map of another method than the one chosen.
pub fn stale_map_hint(lang: Lang, shown: &str, chosen: &str) -> String {
    match lang {
        Lang::Zh => format!("下面是 {shown} 的结果；按“计算”得到 {chosen} 的结果"),
        Lang::En => format!("Below is {shown}'s map; press Compute for {chosen}"),
    }
}

/// Why mistakes on photos the model kept no record of holding back say little, and what does.
pub fn mistakes_on_training_photos(lang: Lang, estimate: Option<&str>) -> String {
    match (lang, estimate) {
        (Lang::Zh, Some(estimate)) => format!(
            "这个模型没有留出验证照片，很可能用这些照片训练过（随应用附带的模型就是这样），所以在这里几乎不会答错。它在没见过的照片上的表现：{estimate}。想看它真正会错在哪里，请选一个它没见过的、每类一个子文件夹的照片文件夹。"
        ),
        (Lang::Zh, None) => "这个模型很可能用这些照片训练过，所以在这里几乎不会答错。想看它真正会错在哪里，请选一个它没见过的、每类一个子文件夹的照片文件夹。".to_string(),
        (Lang::En, Some(estimate)) => format!(
            "This model kept no photos aside and most likely trained on these (as the model that comes with the app did), so it hardly errs here. How it does on photos it has not seen: {estimate}. To see where it really goes wrong, choose a folder of photos it has not seen, one sub-folder per class."
        ),
        (Lang::En, None) => "This model most likely trained on these photos, so it hardly errs here. To see where it really goes wrong, choose a folder of photos it has not seen, one sub-folder per class.".to_string(),
    }
}

pub fn mistakes_shown(lang: Lang, shown: usize) -> String {
    match lang {
        Lang::Zh => format!("显示最自信的 {shown} 个错误"),
        Lang::En => format!("The {shown} surest mistakes are shown"),
    }
}

/// Caption of a Grad-CAM map: the evidence for a class.
pub fn evidence_for(lang: Lang, class: &str) -> String {
    match lang {
        Lang::Zh => format!("“{class}”的依据"),
        Lang::En => format!("evidence for {class}"),
    }
}

pub fn mistake_probabilities(lang: Lang, confidence: f32, truth_probability: f32) -> String {
    match lang {
        Lang::Zh => format!("置信度 {:.1}% · 真实类别的概率 {:.1}%", confidence * 100.0, truth_probability * 100.0),
        Lang::En => format!("confidence {:.1}% · true class {:.1}%", confidence * 100.0, truth_probability * 100.0),
    }
}

/// The selection's heading.
pub fn selected_photos(lang: Lang, count: usize) -> String {
    match lang {
        Lang::Zh => format!("已选 {count} 张照片"),
        Lang::En => format!("{count} photos selected"),
    }
}

/// Below a grid that draws only its first photos.
pub fn more_photos_not_drawn(lang: Lang, count: usize) -> String {
    match lang {
        Lang::Zh => format!("还有 {count} 张未显示（导出和复制包括全部）"),
        Lang::En => format!("{count} more not drawn (export and copy include them all)"),
    }
}

pub fn selection_saved(lang: Lang, count: usize, path: &std::path::Path) -> String {
    match lang {
        Lang::Zh => format!("已将 {count} 张照片的列表保存到 {}", path.display()),
        Lang::En => format!("The list of {count} photos was saved to {}", path.display()),
    }
}

/// What a copy did; failures name the first file and its reason.
pub fn selection_copied(lang: Lang, copied: usize, dest: &std::path::Path, failed: &[(std::path::PathBuf, String)]) -> String {
    let mut text = match lang {
        Lang::Zh => format!("已复制 {copied} 张照片到 {}（按类别分文件夹）", dest.display()),
        Lang::En => format!("{copied} photos copied to {} (a folder per class)", dest.display()),
    };
    if let Some((file, reason)) = failed.first() {
        text += &match lang {
            Lang::Zh => format!("；{} 张未复制，例如 {}：{reason}", failed.len(), file.display()),
            Lang::En => format!("; {} not copied, e.g. {}: {reason}", failed.len(), file.display()),
        };
    }
    text
}

/// A layer's operation in words ("卷积 5×5, 3→32, ReLU, 2×2 最大池化").
pub fn layer_kind(lang: Lang, kind: crate::engine::explain::LayerKind) -> String {
    use crate::engine::explain::LayerKind;
    match (kind, lang) {
        (LayerKind::ConvReluPool { kernel, in_channels, out_channels }, Lang::Zh) => {
            format!("卷积 {kernel}×{kernel}，{in_channels}→{out_channels} 通道，ReLU，2×2 最大池化")
        }
        (LayerKind::ConvReluPool { kernel, in_channels, out_channels }, Lang::En) => {
            format!("conv {kernel}×{kernel}, {in_channels}→{out_channels} channels, ReLU, 2×2 max-pool")
        }
        (LayerKind::DenseReluDropout { inputs, outputs }, Lang::Zh) => format!("全连接 {inputs}→{outputs}，ReLU，dropout 0.5"),
        (LayerKind::DenseReluDropout { inputs, outputs }, Lang::En) => format!("fully connected {inputs}→{outputs}, ReLU, dropout 0.5"),
        (LayerKind::Logits { inputs }, Lang::Zh) => format!("全连接 {inputs}→类别数（logits）"),
        (LayerKind::Logits { inputs }, Lang::En) => format!("fully connected {inputs}→classes (logits)"),
        (LayerKind::Block { stride }, Lang::Zh) => format!("卷积块（步长 {stride} 像素）"),
        (LayerKind::Block { stride }, Lang::En) => format!("convolution block (stride {stride} px)"),
        (LayerKind::GlobalPool, Lang::Zh) => "全局平均池化".to_string(),
        (LayerKind::GlobalPool, Lang::En) => "global average pooling".to_string(),
    }
}

/// What an atlas build will read, said before it starts.
pub fn atlas_build_source(lang: Lang, dir: &std::path::Path, classes: usize, images: usize) -> String {
    match lang {
        Lang::Zh => format!("将使用 {}：{classes} 个类别，{images} 张图片", dir.display()),
        Lang::En => format!("Will use {}: {images} images in {classes} classes", dir.display()),
    }
}
