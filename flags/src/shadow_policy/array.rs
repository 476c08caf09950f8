//! How one array is compared: `ordered` (index by index), `unordered` (as a multiset) or
//! `{ key: FIELD }` (elements matched by a field). Deserialized by hand so that both the
//! plain word and the map form are accepted with precise error messages.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

/// How the elements of one array are paired before they are compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArrayPolicy {
    /// Element `i` against element `i`; a length change is `array-length`, and the same
    /// elements in another order are one `order-only` difference.
    Ordered,
    /// The arrays are multisets: elements without an equal partner on the other side are
    /// `missing` or `extra` under `ARRAY/*`.
    Unordered,
    /// Elements are objects paired by the value of this field and compared pairwise under
    /// `ARRAY/{value}`, collapsed to `ARRAY/*`.
    Keyed {
        /// The field that identifies an element, e.g. `id`.
        key: String,
    },
}

impl schemars::JsonSchema for ArrayPolicy {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ArrayPolicy".into()
    }

    /// `ordered`, `unordered` or `{ key: FIELD }`, as the deserializer reads them.
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "How an array's elements are paired: `ordered` (by index, the default), `unordered` (as a multiset) or `{ key: FIELD }` (objects paired by a field).",
            "oneOf": [
                { "enum": ["ordered", "unordered"] },
                {
                    "type": "object",
                    "properties": { "key": { "type": "string" } },
                    "required": ["key"],
                    "additionalProperties": false,
                },
            ],
        })
    }
}

impl<'de> Deserialize<'de> for ArrayPolicy {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ArrayPolicyVisitor)
    }
}

/// Accepts `ordered`, `unordered` or `{ key: FIELD }`.
struct ArrayPolicyVisitor;

impl<'de> Visitor<'de> for ArrayPolicyVisitor {
    type Value = ArrayPolicy;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("`ordered`, `unordered` or `{ key: FIELD }`")
    }

    fn visit_str<E: de::Error>(self, word: &str) -> Result<ArrayPolicy, E> {
        match word {
            "ordered" => Ok(ArrayPolicy::Ordered),
            "unordered" => Ok(ArrayPolicy::Unordered),
            other => Err(E::unknown_variant(other, &["ordered", "unordered"])),
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ArrayPolicy, A::Error> {
        let mut key = None;
        while let Some(field) = map.next_key::<String>()? {
            if field != "key" {
                return Err(de::Error::unknown_field(&field, &["key"]));
            }
            if key.is_some() {
                return Err(de::Error::duplicate_field("key"));
            }
            key = Some(map.next_value::<String>()?);
        }
        let key = key.ok_or_else(|| de::Error::missing_field("key"))?;
        Ok(ArrayPolicy::Keyed { key })
    }
}
