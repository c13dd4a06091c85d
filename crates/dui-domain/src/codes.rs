//! Enumerations stored and exchanged as short text codes.

/// Declares an enum whose variants are written as fixed text codes: in JSON (serde), in the
/// OpenAPI schema, and in the database (`as_str` / `parse`). The code is the single source of the
/// spelling, so the three cannot drift apart.
#[macro_export]
macro_rules! text_codes {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$variant_meta:meta])* $variant:ident = $code:tt ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        $vis enum $name {
            $( $(#[$variant_meta])* #[serde(rename = $code)] $variant ),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The text code.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $code),+
                }
            }

            /// The value of a text code, if it is one.
            pub fn parse(value: &str) -> Option<Self> {
                match value {
                    $($code => Some(Self::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

#[cfg(test)]
mod tests {
    crate::text_codes! {
        /// A test enumeration.
        enum Colour {
            Red = "red",
            /// Documented variant.
            DarkBlue = "dark_blue",
        }
    }

    #[test]
    fn codes_round_trip_everywhere() {
        for colour in Colour::ALL {
            assert_eq!(Colour::parse(colour.as_str()), Some(*colour));
            assert_eq!(serde_json::to_string(colour).unwrap(), format!("\"{colour}\""));
        }
        assert_eq!(Colour::parse("green"), None);
        assert_eq!(serde_json::from_str::<Colour>("\"dark_blue\"").unwrap(), Colour::DarkBlue);
    }
}
