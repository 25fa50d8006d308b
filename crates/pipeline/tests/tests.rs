//! Integration tests of hounsfield-pipeline: the demo study end to end, and its report in a
//! real browser (headless Chromium, installed by `scripts/setup.sh`).

mod report;
