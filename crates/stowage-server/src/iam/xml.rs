//! The AWS query protocol's response side: XML written by hand, every text
//! escaped, in the shapes botocore's query parser reads.

use std::fmt::Write;

/// An XML document under construction.
#[derive(Default)]
pub struct Xml {
    out: String,
}

impl Xml {
    /// An empty document.
    pub fn new() -> Self {
        Self::default()
    }

    /// Opens `<name>`.
    pub fn open(&mut self, name: &str) -> &mut Self {
        let _ = write!(self.out, "<{name}>");
        self
    }

    /// Closes `</name>`.
    pub fn close(&mut self, name: &str) -> &mut Self {
        let _ = write!(self.out, "</{name}>");
        self
    }

    /// `<name>text</name>`, the text escaped.
    pub fn leaf(&mut self, name: &str, text: &str) -> &mut Self {
        let _ = write!(self.out, "<{name}>{}</{name}>", escape(text));
        self
    }

    /// A leaf when the value is present.
    pub fn opt(&mut self, name: &str, text: Option<&str>) -> &mut Self {
        if let Some(t) = text {
            self.leaf(name, t);
        }
        self
    }

    /// `<name>…</name>` around what `body` writes.
    pub fn wrap(&mut self, name: &str, body: impl FnOnce(&mut Xml)) -> &mut Self {
        self.open(name);
        body(self);
        self.close(name)
    }

    /// A list: `<name><member>…</member>…</name>`.
    pub fn list<T>(&mut self, name: &str, items: &[T], each: impl Fn(&mut Xml, &T)) -> &mut Self {
        self.open(name);
        for item in items {
            self.open("member");
            each(self, item);
            self.close("member");
        }
        self.close(name)
    }

    /// A list of strings: `<name><member>text</member>…</name>`.
    pub fn strings(&mut self, name: &str, items: &[String]) -> &mut Self {
        self.open(name);
        for item in items {
            self.leaf("member", item);
        }
        self.close(name)
    }

    /// The text written so far.
    pub fn finish(self) -> String {
        self.out
    }
}

/// Escapes text for element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot carry at all are dropped rather than sent broken.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

/// The whole response: `<OpResponse xmlns><OpResult>…</OpResult><ResponseMetadata>…`;
/// `result` is `None` for operations without output.
pub fn response(operation: &str, namespace: &str, result: Option<String>, request_id: &str) -> String {
    let mut x = Xml::new();
    let _ = write!(x.out, "<{operation}Response xmlns=\"{namespace}\">");
    if let Some(r) = result {
        let _ = write!(x.out, "<{operation}Result>{r}</{operation}Result>");
    }
    x.wrap("ResponseMetadata", |x| {
        x.leaf("RequestId", request_id);
    });
    x.close(&format!("{operation}Response"));
    x.finish()
}

/// An error: `<ErrorResponse xmlns><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>`.
pub fn error(namespace: &str, sender: bool, code: &str, message: &str, request_id: &str) -> String {
    let mut x = Xml::new();
    let _ = write!(x.out, "<ErrorResponse xmlns=\"{namespace}\">");
    x.wrap("Error", |x| {
        x.leaf("Type", if sender { "Sender" } else { "Receiver" })
            .leaf("Code", code)
            .leaf("Message", message);
    });
    x.leaf("RequestId", request_id).close("ErrorResponse");
    x.finish()
}

/// Epoch milliseconds as ISO 8601 (`2026-11-27T02:26:02Z`), as IAM writes dates.
pub fn date(ms: i64) -> String {
    let basic = stowage_core::sigv4::format_amz_date(ms.div_euclid(1000));
    // 20261127T022602Z → 2026-11-27T02:26:02Z
    format!(
        "{}-{}-{}T{}:{}:{}Z",
        &basic[0..4],
        &basic[4..6],
        &basic[6..8],
        &basic[9..11],
        &basic[11..13],
        &basic[13..15]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_text() {
        let mut x = Xml::new();
        x.leaf("PolicyDocument", r#"{"a":"<b> & 'c'"}"#);
        assert_eq!(
            x.finish(),
            "<PolicyDocument>{&quot;a&quot;:&quot;&lt;b&gt; &amp; &apos;c&apos;&quot;}</PolicyDocument>"
        );
        assert_eq!(escape("a\u{1}b\n"), "ab\n");
    }

    #[test]
    fn wraps_results_and_errors() {
        let body = response(
            "GetUser",
            "https://iam.amazonaws.com/doc/2010-05-08/",
            Some("<User/>".into()),
            "r1",
        );
        assert_eq!(
            body,
            "<GetUserResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><GetUserResult><User/></GetUserResult>\
             <ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata></GetUserResponse>"
        );
        let err = error(
            "ns",
            true,
            "NoSuchEntity",
            "The user with name x cannot be found.",
            "r2",
        );
        assert_eq!(
            err,
            "<ErrorResponse xmlns=\"ns\"><Error><Type>Sender</Type><Code>NoSuchEntity</Code>\
             <Message>The user with name x cannot be found.</Message></Error><RequestId>r2</RequestId></ErrorResponse>"
        );
    }

    #[test]
    fn formats_dates() {
        assert_eq!(date(0), "1970-01-01T00:00:00Z");
        assert_eq!(date(1_764_241_691_500), "2025-11-27T11:08:11Z");
    }
}
