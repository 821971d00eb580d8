//! TEMPORARY placeholder until the model branch lands (not committed).
use crate::segment::Segmenter;
use std::path::Path;
pub struct Model {
    version: String,
}
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("io {0}")]
    Io(String),
}
impl Model {
    pub fn load(path: &Path) -> Result<Model, ModelError> {
        std::fs::metadata(path).map_err(|e| ModelError::Io(e.to_string()))?;
        Ok(Model {
            version: "temp".into(),
        })
    }
    pub fn version(&self) -> &str {
        &self.version
    }
    pub fn p_positive(&self, seg: &Segmenter, text: &str) -> f64 {
        let mut w = Vec::new();
        seg.cut(text, &mut w);
        let mut s = 0.0;
        for t in &w {
            if ["好", "快", "满意", "不错"].contains(t) {
                s += 1.0
            }
            if ["差", "慢", "失望", "太差"].contains(t) {
                s -= 1.0
            }
        }
        1.0 / (1.0 + (-s as f64).exp())
    }
}
pub mod train {
    #[derive(clap::Args, Debug)]
    pub struct TrainArgs {
        #[arg(long)]
        pub out: String,
    }
    pub fn run(_a: &TrainArgs) -> Result<(), super::ModelError> {
        Ok(())
    }
}
pub mod eval {
    #[derive(clap::Args, Debug)]
    pub struct EvalArgs {
        #[arg(long)]
        pub data: String,
    }
    pub fn run(_a: &EvalArgs) -> Result<(), super::ModelError> {
        Ok(())
    }
}
