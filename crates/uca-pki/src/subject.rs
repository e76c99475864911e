//! Subject distinguished names: CA defaults (O, OU, C, ST, L) plus a CN per certificate.

use serde::{Deserialize, Serialize};

use crate::PkiError;

/// The subject fields uca writes, in the conventional order C, ST, L, O, OU, CN.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    #[serde(rename = "C", skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(rename = "ST", skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(rename = "L", skip_serializing_if = "Option::is_none")]
    pub locality: Option<String>,
    #[serde(rename = "O", skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    #[serde(rename = "OU", skip_serializing_if = "Option::is_none")]
    pub organizational_unit: Option<String>,
    #[serde(rename = "CN", skip_serializing_if = "Option::is_none")]
    pub common_name: Option<String>,
}

/// Upper bounds from RFC 5280 Appendix A (ub-common-name etc.).
const UB_NAME: usize = 64;
const UB_PLACE: usize = 128;

impl Subject {
    /// Parses `O=Acme,OU=Ops,C=US` or the OpenSSL form `/O=Acme/OU=Ops/C=US`.
    pub fn parse(input: &str) -> Result<Subject, PkiError> {
        let bad = |reason: String| PkiError::BadSubject {
            input: input.to_string(),
            reason,
        };
        let trimmed = input.trim();
        let parts: Vec<&str> = if let Some(rest) = trimmed.strip_prefix('/') {
            rest.split('/').collect()
        } else {
            trimmed.split(',').collect()
        };
        let mut s = Subject::default();
        for part in parts.iter().map(|p| p.trim()).filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').ok_or_else(|| {
                bad(format!(
                    "'{part}' is not KEY=VALUE (keys: CN, O, OU, C, ST, L)"
                ))
            })?;
            let v = v.trim().to_string();
            let slot = match k.trim().to_ascii_uppercase().as_str() {
                "CN" => &mut s.common_name,
                "O" => &mut s.organization,
                "OU" => &mut s.organizational_unit,
                "C" => &mut s.country,
                "ST" | "S" => &mut s.state,
                "L" => &mut s.locality,
                other => {
                    return Err(bad(format!(
                        "unknown field '{other}' (keys: CN, O, OU, C, ST, L)"
                    )));
                }
            };
            *slot = Some(v);
        }
        s.validate().map_err(bad)?;
        Ok(s)
    }

    /// Checks lengths and the country code; returns the reason on failure.
    pub fn validate(&self) -> Result<(), String> {
        let fields = [
            ("CN", &self.common_name, UB_NAME),
            ("O", &self.organization, UB_NAME),
            ("OU", &self.organizational_unit, UB_NAME),
            ("ST", &self.state, UB_PLACE),
            ("L", &self.locality, UB_PLACE),
        ];
        for (name, value, max) in fields {
            if let Some(v) = value {
                if v.is_empty() {
                    return Err(format!("{name} is empty"));
                }
                if v.chars().count() > max {
                    return Err(format!("{name} is longer than {max} characters"));
                }
                if v.chars().any(char::is_control) {
                    return Err(format!("{name} contains control characters"));
                }
            }
        }
        if let Some(c) = &self.country
            && (c.len() != 2 || !c.chars().all(|ch| ch.is_ascii_uppercase()))
        {
            return Err(format!(
                "C must be a two-letter ISO 3166 code in capitals (e.g. US, DE), not '{c}'"
            ));
        }
        Ok(())
    }

    /// `self`, checked: the error names the whole subject.
    pub fn checked(self) -> Result<Subject, PkiError> {
        match self.validate() {
            Ok(()) => Ok(self),
            Err(reason) => Err(PkiError::BadSubject {
                input: self.one_line(),
                reason,
            }),
        }
    }

    /// `self` with every field that `over` sets replaced.
    pub fn overlay(&self, over: &Subject) -> Subject {
        let pick = |a: &Option<String>, b: &Option<String>| b.clone().or_else(|| a.clone());
        Subject {
            country: pick(&self.country, &over.country),
            state: pick(&self.state, &over.state),
            locality: pick(&self.locality, &over.locality),
            organization: pick(&self.organization, &over.organization),
            organizational_unit: pick(&self.organizational_unit, &over.organizational_unit),
            common_name: pick(&self.common_name, &over.common_name),
        }
    }

    pub fn with_common_name(&self, cn: Option<&str>) -> Subject {
        Subject {
            common_name: cn.map(str::to_string),
            ..self.clone()
        }
    }

    pub fn is_empty(&self) -> bool {
        self == &Subject::default()
    }

    pub(crate) fn to_rcgen(&self) -> Result<rcgen::DistinguishedName, PkiError> {
        use rcgen::{DnType, DnValue};
        let mut dn = rcgen::DistinguishedName::new();
        if let Some(c) = &self.country {
            // countryName is a PrintableString (X.520); UTF8String here trips linters.
            let p = rcgen::string::PrintableString::try_from(c.clone()).map_err(|e| {
                PkiError::BadSubject {
                    input: c.clone(),
                    reason: e.to_string(),
                }
            })?;
            dn.push(DnType::CountryName, DnValue::PrintableString(p));
        }
        let rest = [
            (DnType::StateOrProvinceName, &self.state),
            (DnType::LocalityName, &self.locality),
            (DnType::OrganizationName, &self.organization),
            (DnType::OrganizationalUnitName, &self.organizational_unit),
            (DnType::CommonName, &self.common_name),
        ];
        for (ty, v) in rest {
            if let Some(v) = v {
                dn.push(ty, DnValue::Utf8String(v.clone()));
            }
        }
        Ok(dn)
    }

    /// One-line form, `C=US, O=Acme, CN=rmq1`.
    pub fn one_line(&self) -> String {
        let fields = [
            ("C", &self.country),
            ("ST", &self.state),
            ("L", &self.locality),
            ("O", &self.organization),
            ("OU", &self.organizational_unit),
            ("CN", &self.common_name),
        ];
        fields
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_forms() {
        let a = Subject::parse("O=Acme,OU=Ops,C=US").unwrap();
        let b = Subject::parse("/O=Acme/OU=Ops/C=US").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.organization.as_deref(), Some("Acme"));
        assert!(Subject::parse("C=USA").is_err());
        assert!(Subject::parse("X=1").is_err());
        assert!(Subject::parse("O").is_err());
    }
}
