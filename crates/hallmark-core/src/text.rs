//! Text from outside (registry bodies, media types, annotations) made safe for a terminal.
//!
//! A registry chooses the bytes of its error bodies, `mediaType` and `artifactType` values;
//! printed raw, ESC, BEL and CR sequences could retitle or clear the terminal and print a fake
//! result. Every control character (Unicode category Cc: C0, DEL and C1) is written as Rust's
//! escape (`\u{1b}`, `\r`, ...); everything else is kept.

use std::borrow::Cow;

/// `s` with every control character escaped (`\n` too: one value, one line).
pub fn escape_controls(s: &str) -> Cow<'_, str> {
    escape_where(s, char::is_control)
}

/// `s` with every control character but `\n` escaped: for messages of several lines that
/// may carry text from outside.
pub fn escape_controls_keep_lines(s: &str) -> Cow<'_, str> {
    escape_where(s, |c| c.is_control() && c != '\n')
}

fn escape_where(s: &str, escape: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !s.chars().any(&escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if escape(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_escaped_and_the_rest_kept() {
        assert_eq!(escape_controls("plain é ✓"), "plain é ✓");
        assert!(matches!(escape_controls("plain"), Cow::Borrowed(_)));
        assert_eq!(
            escape_controls("\u{1b}]0;pwned\u{7}\r\nok\u{9b}\u{7f}"),
            "\\u{1b}]0;pwned\\u{7}\\r\\nok\\u{9b}\\u{7f}"
        );
        assert_eq!(
            escape_controls_keep_lines("a\u{1b}[2J\nb\rc"),
            "a\\u{1b}[2J\nb\\rc"
        );
    }
}
