//! Page strings in English and Dzongkha. The catalogues are plain TOML files
//! (`idp/locales/en.toml`, `idp/locales/dz.toml`) so a native speaker can review the Dzongkha
//! without reading code; they are compiled in.

use std::collections::HashMap;

use crate::error::{Error, Result};

/// A supported language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    /// English.
    En,
    /// Dzongkha.
    Dz,
}

impl Lang {
    /// The BCP 47 tag.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Dz => "dz",
        }
    }

    /// Picks the language: `ui_locales` (OIDC) first, then the language cookie, then
    /// `Accept-Language` (in the browser's order, ignoring weights of zero), then English.
    pub fn negotiate(ui_locales: Option<&str>, cookie: Option<&str>, accept_language: Option<&str>) -> Lang {
        let pick = |tag: &str| {
            let primary = tag.split(['-', '_']).next().unwrap_or("").trim().to_ascii_lowercase();
            match primary.as_str() {
                "dz" => Some(Lang::Dz),
                "en" => Some(Lang::En),
                _ => None,
            }
        };
        if let Some(l) = ui_locales.and_then(|u| u.split(' ').find_map(pick)) {
            return l;
        }
        if let Some(l) = cookie.and_then(pick) {
            return l;
        }
        if let Some(al) = accept_language {
            for part in al.split(',') {
                let mut it = part.split(';');
                let tag = it.next().unwrap_or("");
                let zero = it.any(|p| p.trim().trim_start_matches("q=").parse::<f32>().is_ok_and(|q| q == 0.0));
                if !zero && let Some(l) = pick(tag) {
                    return l;
                }
            }
        }
        Lang::En
    }
}

/// Both catalogues.
#[derive(Debug)]
pub struct Catalogue {
    en: HashMap<String, String>,
    dz: HashMap<String, String>,
}

/// The strings of one language, handed to templates.
#[derive(Debug, Clone, Copy)]
pub struct T<'a> {
    strings: &'a HashMap<String, String>,
    fallback: &'a HashMap<String, String>,
    /// The language.
    pub lang: Lang,
}

impl<'a> T<'a> {
    /// The string for `key` (English if the language lacks it, the key itself if both do).
    pub fn get(&self, key: &str) -> &'a str {
        self.strings.get(key).or_else(|| self.fallback.get(key)).map(String::as_str).unwrap_or("?")
    }
    /// The string with `{name}` replaced by `value`.
    pub fn fmt(&self, key: &str, name: &str, value: &str) -> String {
        self.get(key).replace(&format!("{{{name}}}"), value)
    }
}

impl Catalogue {
    /// Parses the compiled-in catalogues.
    pub fn load() -> Result<Self> {
        let parse = |src: &str, name: &str| -> Result<HashMap<String, String>> {
            toml::from_str(src).map_err(|e| Error::internal(format!("locale {name}: {e}")))
        };
        Ok(Self {
            en: parse(include_str!("../locales/en.toml"), "en")?,
            dz: parse(include_str!("../locales/dz.toml"), "dz")?,
        })
    }

    /// The strings of `lang`.
    pub fn t(&self, lang: Lang) -> T<'_> {
        T { strings: if lang == Lang::Dz { &self.dz } else { &self.en }, fallback: &self.en, lang }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn placeholders(s: &str) -> Vec<String> {
        let mut v: Vec<String> =
            s.split('{').skip(1).filter_map(|p| p.split_once('}').map(|(a, _)| a.to_string())).collect();
        v.sort();
        v
    }

    #[test]
    fn catalogues_have_the_same_keys_and_placeholders() {
        let c = Catalogue::load().unwrap();
        for (k, v) in &c.en {
            let dz = c.dz.get(k).unwrap_or_else(|| panic!("dz.toml lacks {k}"));
            assert_eq!(placeholders(v), placeholders(dz), "placeholders of {k}");
        }
        for k in c.dz.keys() {
            assert!(c.en.contains_key(k), "dz.toml has {k}, en.toml does not");
        }
    }

    #[test]
    fn negotiation_order() {
        assert_eq!(Lang::negotiate(Some("dz en"), Some("en"), Some("en")), Lang::Dz);
        assert_eq!(Lang::negotiate(Some("fr"), Some("dz"), None), Lang::Dz);
        assert_eq!(Lang::negotiate(None, None, Some("fr-FR, dz;q=0.8, en;q=0.5")), Lang::Dz);
        assert_eq!(Lang::negotiate(None, None, Some("dz;q=0, en")), Lang::En);
        assert_eq!(Lang::negotiate(None, None, None), Lang::En);
    }
}
