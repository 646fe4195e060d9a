//! A marketplace's address: an http or https origin (scheme, host, port), the one thing a creator
//! types and the domain every sign-in presentation is bound to.

use crate::error::ClientError;

/// A marketplace's origin, normalised as browsers write it (`https://market.example`,
/// `http://127.0.0.1:8787`): lower-case host, no default port, no trailing slash.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Origin(String);

impl Origin {
    /// Checks that `url` names a marketplace by its origin alone: http or https, a host, no user,
    /// path, query or fragment (a trailing `/` is allowed).
    pub fn parse(url: &str) -> Result<Origin, ClientError> {
        let refuse = |problem: &str| ClientError::BadUrl {
            url: hallmark_core::json::excerpt(url, 200),
            problem: problem.to_owned(),
        };
        if !url.contains("://") {
            return Err(refuse(
                "it has no scheme; write https://HOST or http://HOST:PORT",
            ));
        }
        let parsed = reqwest::Url::parse(url.trim())
            .map_err(|e| refuse(&format!("it is not a URL ({e})")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(refuse(&format!(
                "its scheme is {}; a marketplace is reached over http or https",
                parsed.scheme()
            )));
        }
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err(refuse("it names no host"));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(refuse(
                "it holds a user name or password; give only scheme, host and port",
            ));
        }
        if parsed.path() != "/" || parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(refuse(
                "it has a path, query or fragment; give only scheme, host and port",
            ));
        }
        Ok(Origin(parsed.origin().ascii_serialization()))
    }

    /// The origin as text, such as `https://market.example`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The full URL of `path` (which starts with `/`) at this origin.
    pub(crate) fn join(&self, path: &str) -> String {
        format!("{}{path}", self.0)
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for Origin {
    type Err = ClientError;

    fn from_str(url: &str) -> Result<Self, ClientError> {
        Origin::parse(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(url: &str) -> String {
        match Origin::parse(url) {
            Err(e @ ClientError::BadUrl { .. }) => e.to_string(),
            other => panic!("{url}: expected a bad URL, got {other:?}"),
        }
    }

    #[test]
    fn an_origin_is_normalised_as_browsers_write_it() {
        let cases = [
            ("https://Market.Example/", "https://market.example"),
            ("https://market.example:443", "https://market.example"),
            ("http://127.0.0.1:8787", "http://127.0.0.1:8787"),
            ("  http://[::1]:8787/ ", "http://[::1]:8787"),
        ];
        for (typed, origin) in cases {
            assert_eq!(Origin::parse(typed).unwrap().as_str(), origin, "{typed}");
        }
    }

    #[test]
    fn anything_but_an_http_origin_is_refused_with_the_url_and_the_fix() {
        let message = problem("market.example");
        assert!(message.contains("\"market.example\""), "{message}");
        assert!(message.contains("https://HOST"), "{message}");
        assert!(problem("ftp://market.example").contains("http or https"));
        for url in [
            "https://market.example/v1",
            "https://market.example/?x=1",
            "https://market.example/#top",
        ] {
            assert!(problem(url).contains("path, query or fragment"), "{url}");
        }
        assert!(problem("https://ana:secret@market.example").contains("user name"));
        assert!(problem("http://").contains("not a URL"));
        assert!(problem("").contains("no scheme"));
    }
}
