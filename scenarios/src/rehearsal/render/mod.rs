//! One rehearsal report, three renderings: the terminal story (`text`), the `--json` summary
//! (`json`), and the self-contained HTML page (`html`, with `charts` drawn by plotters).

pub mod charts;
pub mod html;
pub mod json;
pub mod text;
