//! Fuzzes the mapping of a URL path to a file under a folder's prefix: it must never
//! panic, never name a file outside the folder, and `route` must pick what `resolve` says.
//!
//! Input: the prefix, a newline, the path (as sent, percent-encoded).

#![no_main]

use std::path::Component;

use libfuzzer_sys::fuzz_target;
use warp_http::files::{resolve, route, Target};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Some((prefix, path)) = text.split_once('\n') else { return };
    let target = resolve(prefix, path);
    if let Target::File { rel, .. } = &target {
        assert!(rel.components().all(|c| matches!(c, Component::Normal(_))), "{path:?} under {prefix:?} gave {rel:?}");
        let name = rel.to_string_lossy();
        assert!(!name.contains(['\\', '\0']), "{path:?} under {prefix:?} gave {rel:?}");
    }
    let expected = (target != Target::Elsewhere).then_some((0, target));
    assert_eq!(route(&[prefix], path), expected, "{path:?} under {prefix:?}");
});
