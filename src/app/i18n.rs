//! Every string the window shows, in Chinese (the default) and English. Nothing visible is
//! written anywhere else.

use serde::{Deserialize, Serialize};

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
    ModelMenu,
    LoadCheckpoint,
    RunCheckpoints,
    LoadDescriptions,
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
    DialogUnavailable,
    ComingExplain,
    ComingAtlas,
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
    TimeLeft,
    ReadingImages,
    Best,
    TrueClass,
    PredictedClass,
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
            T::ModelMenu => ("模型", "Model"),
            T::LoadCheckpoint => ("加载检查点…", "Load checkpoint…"),
            T::RunCheckpoints => ("本次训练的检查点", "Checkpoints of this run"),
            T::LoadDescriptions => ("加载类别介绍文件…", "Load description file…"),
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
            T::NoDescription => ("（此类别暂无介绍。可在“模型”菜单中加载或编辑介绍文件。）",
                "(No description for this class yet. Load or edit a description file from the Model menu.)"),
            T::DropHint => ("点击“读取图片”，或把图片拖到窗口上，或按 Ctrl+O。", "Click “Read image”, drop a picture on the window, or press Ctrl+O."),
            T::NoImageYet => ("还没有图片", "No picture yet"),
            T::PressVerify => ("点击“验证”（或按回车）识别这张图片。", "Click “Verify” (or press Enter) to classify this picture."),
            T::DialogUnavailable => ("没有选择文件。如果没有出现对话框，说明本系统没有文件对话框服务：请把文件拖到窗口上。",
                "No file chosen. If no dialog appeared, this system has no file-dialog service: drop the file on the window instead."),
            T::ComingExplain => ("解释面板：特征图、卷积核、显著图、Grad-CAM、遮挡、特征可视化。", "Explain panel: feature maps, filters, saliency, Grad-CAM, occlusion, feature visualisation."),
            T::ComingAtlas => ("地图集面板：平移缩放激活地图集，把图片放到地图上。", "Atlas panel: pan and zoom the activation atlas, drop pictures onto it."),
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
            T::DatasetNone => ("选择一个文件夹：每个类别一个子文件夹，里面放该类的图片。", "Choose a folder with one sub-folder of pictures per class."),
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
            T::TimeLeft => ("剩余约", "about"),
            T::ReadingImages => ("正在读取图片", "Reading pictures"),
            T::Best => ("最佳", "best"),
            T::TrueClass => ("真实类别", "true class"),
            T::PredictedClass => ("预测类别", "predicted"),
        };
        match lang {
            Lang::Zh => zh,
            Lang::En => en,
        }
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
        Lang::Zh => format!("后台任务出错并已恢复（模型已重新加载）：{message}"),
        Lang::En => format!("A background job crashed and was recovered (model reloaded): {message}"),
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
