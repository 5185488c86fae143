//! The five panels, one per tab, and the shell's way to reach all of them at once (for events,
//! failures, finishes and model changes) or the one of a tab.

use super::atlas_panel::AtlasPanel;
use super::classify_panel::ClassifyPanel;
use super::explain_panel::ExplainPanel;
use super::mistakes_panel::MistakesPanel;
use super::panel::Panel;
use super::state::Tab;
use super::train_panel::TrainPanel;

#[derive(Default)]
pub struct Panels {
    pub classify: ClassifyPanel,
    pub train: TrainPanel,
    pub explain: ExplainPanel,
    pub atlas: AtlasPanel,
    pub mistakes: MistakesPanel,
}

impl Panels {
    /// Every panel, so a broadcast reaches each one.
    pub fn all_mut(&mut self) -> [&mut dyn Panel; 5] {
        [&mut self.classify, &mut self.train, &mut self.explain, &mut self.atlas, &mut self.mistakes]
    }

    /// The panel a tab shows.
    pub fn of_tab(&mut self, tab: Tab) -> &mut dyn Panel {
        match tab {
            Tab::Classify => &mut self.classify,
            Tab::Train => &mut self.train,
            Tab::Explain => &mut self.explain,
            Tab::Atlas => &mut self.atlas,
            Tab::Mistakes => &mut self.mistakes,
        }
    }
}
