//! The [`wire_enum!`](crate::wire_enum) macro.

/// Declares a registry of wire values: known variants, each with a doc comment citing its
/// RFC section, plus `Unknown(n)` for everything else, so a value read off the wire is never
/// lost and never a panic (smoltcp `enum_with_unknown!`, rustls `enum_builder!`).
///
/// ```
/// sras_core::wire_enum! {
///     /// Example registry.
///     pub enum Color(u8) {
///         /// Red.
///         Red = 1,
///         /// Green.
///         Green = 2,
///     }
/// }
/// assert_eq!(Color::from(2u8), Color::Green);
/// assert_eq!(u8::from(Color::Unknown(9)), 9);
/// assert_eq!(Color::from(9u8), Color::Unknown(9));
/// ```
#[macro_export]
macro_rules! wire_enum {
    (
        $(#[$attr:meta])*
        $vis:vis enum $name:ident($ty:ty) {
            $(
                $(#[$vattr:meta])*
                $variant:ident = $value:expr
            ),+ $(,)?
        }
    ) => {
        $(#[$attr])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis enum $name {
            $(
                $(#[$vattr])*
                $variant,
            )+
            /// A value this registry does not know.
            Unknown($ty),
        }

        impl $name {
            /// Every known variant, in declaration order.
            pub const KNOWN: &'static [$name] = &[$($name::$variant),+];

            /// The wire value.
            pub const fn value(self) -> $ty {
                match self {
                    $($name::$variant => $value,)+
                    $name::Unknown(v) => v,
                }
            }

            /// Whether this is a known variant.
            pub const fn is_known(self) -> bool {
                !matches!(self, $name::Unknown(_))
            }
        }

        impl ::core::convert::From<$ty> for $name {
            fn from(v: $ty) -> Self {
                match v {
                    $(x if x == $value => $name::$variant,)+
                    other => $name::Unknown(other),
                }
            }
        }

        impl ::core::convert::From<$name> for $ty {
            fn from(v: $name) -> Self {
                v.value()
            }
        }
    };
}
