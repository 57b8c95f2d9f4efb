//! Byte-level helpers shared by the line-based formats.

/// Lines of a file as byte ranges without their terminator (`\n` or `\r\n`),
/// each with its 1-based number. A UTF-8 BOM at the start is not part of line 1.
pub(crate) fn lines(bytes: &[u8]) -> Lines<'_> {
    let start = if bytes.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    };
    Lines {
        bytes,
        pos: start,
        number: 0,
    }
}

/// See [`lines`].
pub(crate) struct Lines<'a> {
    bytes: &'a [u8],
    /// Where the next line starts.
    pos: usize,
    /// The number of the line last given.
    number: u32,
}

impl Lines<'_> {
    /// Pass over, uncounted one by one, every line before the next that
    /// holds `a` or `b` anywhere: a parser that only cares for such lines
    /// (a fence) jumps from one to the next instead of looking at each.
    pub(crate) fn skip_to_line_with(&mut self, a: u8, b: u8) {
        let rest = &self.bytes[self.pos..];
        let line_start = match memchr::memchr2(a, b, rest) {
            Some(hit) => memchr::memrchr(b'\n', &rest[..hit]).map_or(0, |nl| nl + 1),
            None => rest.len(),
        };
        let skipped = memchr::memchr_iter(b'\n', &rest[..line_start]).count();
        self.number += u32::try_from(skipped).unwrap_or(u32::MAX);
        self.pos += line_start;
    }
}

impl Iterator for Lines<'_> {
    type Item = (u32, usize, usize);

    fn next(&mut self) -> Option<Self::Item> {
        let bytes = self.bytes;
        if self.pos >= bytes.len() {
            return None;
        }
        self.number += 1;
        let line_start = self.pos;
        let line_end = match memchr::memchr(b'\n', &bytes[line_start..]) {
            Some(i) => {
                self.pos += i + 1;
                line_start + i
            }
            None => {
                self.pos = bytes.len();
                bytes.len()
            }
        };
        let content_end = if line_end > line_start && bytes[line_end - 1] == b'\r' {
            line_end - 1
        } else {
            line_end
        };
        Some((self.number, line_start, content_end))
    }
}

/// Range of `bytes[start..end]` with spaces and tabs trimmed at both ends.
pub(crate) fn trim_range(bytes: &[u8], mut start: usize, mut end: usize) -> (usize, usize) {
    while start < end && matches!(bytes[start], b' ' | b'\t') {
        start += 1;
    }
    while end > start && matches!(bytes[end - 1], b' ' | b'\t') {
        end -= 1;
    }
    (start, end)
}

/// 1-based line number of a byte offset.
pub(crate) fn line_of(bytes: &[u8], offset: usize) -> u32 {
    let offset = offset.min(bytes.len());
    (memchr::memchr_iter(b'\n', &bytes[..offset]).count() + 1) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_handle_crlf_bom_and_missing_final_newline() {
        let text = b"\xEF\xBB\xBFa\r\nbb\n\nc";
        let got: Vec<_> = lines(text)
            .map(|(n, s, e)| (n, String::from_utf8_lossy(&text[s..e]).into_owned()))
            .collect();
        assert_eq!(
            got,
            vec![
                (1, "a".to_string()),
                (2, "bb".to_string()),
                (3, String::new()),
                (4, "c".to_string())
            ]
        );
        assert_eq!(line_of(text, 9), 3);
    }
}
