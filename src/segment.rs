//! TEMPORARY placeholder until the model branch lands (not committed).
use std::path::Path;
pub struct Segmenter {
    jieba: jieba_rs::Jieba,
}
#[derive(Debug, thiserror::Error)]
pub enum SegmentError {
    #[error("dict {0}")]
    Dict(String),
}
impl Segmenter {
    pub fn new(_user_dict: Option<&Path>) -> Result<Segmenter, SegmentError> {
        Ok(Segmenter {
            jieba: jieba_rs::Jieba::new(),
        })
    }
    pub fn cut<'a>(&self, text: &'a str, out: &mut Vec<&'a str>) {
        out.clear();
        out.extend(self.jieba.cut(text, true).into_iter().map(|t| t.word));
    }
}
