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
    ComingTrain,
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
            T::ComingTrain => ("训练面板：选择数据集文件夹、实时查看损失曲线、比较检查点。", "Training panel: pick a data set folder, watch the loss live, compare checkpoints."),
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
