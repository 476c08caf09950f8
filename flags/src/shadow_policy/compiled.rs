//! Validation and compilation of a [`ShadowPolicy`] into the immutable [`CompiledPolicy`]
//! the request path reads: defaults applied, units parsed, ignore rules split into
//! segments and array policies keyed by their collapsed pointer.

use std::collections::HashMap;
use std::time::Duration;

use super::units::{self, Percent};
use super::{pointer, ArrayPolicy, IgnoreRules, PolicyError, ShadowPolicy};

/// Default `noise:`: one compared request in twenty also calls the primary again.
const DEFAULT_NOISE: Percent = Percent::from_hundredths(500);
/// Default `max_body:` (1 MiB).
const DEFAULT_MAX_BODY: usize = 1 << 20;
/// Default `timeout:`.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// A validated shadow policy, ready for the diff engine; built by
/// [`ShadowPolicy::compile`] and never changed afterwards.
#[derive(Debug, Clone)]
pub struct CompiledPolicy {
    /// Share of eligible requests that are shadowed.
    pub sample: Percent,
    /// Methods that are shadowed, as written (HTTP methods are case-sensitive).
    pub methods: Vec<String>,
    /// Share of compared requests that also call the primary a second time.
    pub noise: Percent,
    /// Whether a noise probe asks the shadow side twice as well.
    pub noise_both_sides: bool,
    /// Largest body, after decoding, that is compared; larger ones are skipped.
    pub max_body: usize,
    /// How long the shadow side may take to answer.
    pub timeout: Duration,
    /// Absolute tolerance under which two JSON numbers are equal (0 means exact).
    pub tolerance: f64,
    /// Lowercase names of the response headers that are compared.
    pub headers: Vec<String>,
    /// The `ignore:` rules, pointers split into segments.
    pub ignore: IgnoreRules,
    /// The `case_insensitive_keys:` pointers, in the same pointer language as `ignore:`.
    pub case_insensitive_keys: IgnoreRules,
    /// The `arrays:` policies keyed by collapsed pointer, so the diff finds the policy of
    /// `/orders/17/lines` under `/orders/*/lines` with one lookup.
    pub(crate) arrays: HashMap<String, ArrayPolicy>,
}

impl CompiledPolicy {
    /// Whether requests with this method are shadowed at all.
    pub fn allows_method(&self, method: &str) -> bool {
        self.methods.iter().any(|allowed| allowed == method)
    }

    /// How the array at this collapsed pointer is compared.
    pub fn array_policy(&self, collapsed: &str) -> &ArrayPolicy {
        self.arrays.get(collapsed).unwrap_or(&ArrayPolicy::Ordered)
    }
}

impl Default for CompiledPolicy {
    /// The policy of an empty `shadow: {}` block.
    fn default() -> Self {
        CompiledPolicy {
            sample: Percent::ALL,
            methods: vec!["GET".to_owned(), "HEAD".to_owned()],
            noise: DEFAULT_NOISE,
            noise_both_sides: false,
            max_body: DEFAULT_MAX_BODY,
            timeout: DEFAULT_TIMEOUT,
            tolerance: 0.0,
            headers: vec!["content-type".to_owned()],
            ignore: IgnoreRules::default(),
            case_insensitive_keys: IgnoreRules::default(),
            arrays: HashMap::new(),
        }
    }
}

impl ShadowPolicy {
    /// Validates every field and compiles the policy; the error names the first bad value.
    pub fn compile(&self) -> Result<CompiledPolicy, PolicyError> {
        let defaults = CompiledPolicy::default();
        let noise = percent("noise", self.noise, defaults.noise)?;
        let noise_both_sides = self.noise_both_sides.unwrap_or(false);
        if noise_both_sides && noise.hundredths() == 0 {
            return Err(PolicyError::NoiseBothSides);
        }
        Ok(CompiledPolicy {
            sample: percent("sample", self.sample, defaults.sample)?,
            methods: methods(self.methods.as_deref(), defaults.methods)?,
            noise,
            noise_both_sides,
            max_body: max_body(self.max_body.as_deref(), defaults.max_body)?,
            timeout: timeout(self.timeout.as_deref(), defaults.timeout)?,
            tolerance: tolerance(self.tolerance)?,
            headers: headers(self.headers.as_deref(), defaults.headers)?,
            ignore: IgnoreRules::compile(&self.ignore)?,
            case_insensitive_keys: case_insensitive_keys(&self.case_insensitive_keys)?,
            arrays: arrays(&self.arrays)?,
        })
    }
}

fn percent(
    field: &'static str,
    value: Option<f64>,
    default: Percent,
) -> Result<Percent, PolicyError> {
    match value {
        None => Ok(default),
        Some(value) => units::percent(value).ok_or(PolicyError::Percent { field, value }),
    }
}

fn methods(written: Option<&[String]>, default: Vec<String>) -> Result<Vec<String>, PolicyError> {
    let Some(written) = written else {
        return Ok(default);
    };
    for method in written {
        let token = !method.is_empty() && method.bytes().all(|b| b.is_ascii_uppercase());
        if !token {
            return Err(PolicyError::Method {
                value: method.clone(),
            });
        }
    }
    Ok(written.to_vec())
}

/// The largest `max_body:`: every shadow call in flight may hold copies of this size.
const MAX_MAX_BODY: usize = 64 << 20;

fn max_body(written: Option<&str>, default: usize) -> Result<usize, PolicyError> {
    written.map_or(Ok(default), |text| {
        units::size(text)
            .filter(|size| *size <= MAX_MAX_BODY)
            .ok_or_else(|| PolicyError::Size {
                value: text.to_owned(),
            })
    })
}

fn timeout(written: Option<&str>, default: Duration) -> Result<Duration, PolicyError> {
    written.map_or(Ok(default), |text| {
        units::duration(text)
            .filter(|timeout| !timeout.is_zero())
            .ok_or_else(|| PolicyError::Duration {
                value: text.to_owned(),
            })
    })
}

fn tolerance(written: Option<f64>) -> Result<f64, PolicyError> {
    match written {
        None => Ok(0.0),
        Some(value) if value.is_finite() && value >= 0.0 => Ok(value),
        Some(value) => Err(PolicyError::Tolerance { value }),
    }
}

fn headers(written: Option<&[String]>, default: Vec<String>) -> Result<Vec<String>, PolicyError> {
    let Some(written) = written else {
        return Ok(default);
    };
    written
        .iter()
        .map(|name| {
            if pointer::is_header_name(name) {
                Ok(name.to_ascii_lowercase())
            } else {
                Err(PolicyError::Header {
                    value: name.clone(),
                })
            }
        })
        .collect()
}

/// The `case_insensitive_keys:` pointers: each a JSON pointer below the root (`header:`
/// rules mean nothing here).
fn case_insensitive_keys(written: &[String]) -> Result<IgnoreRules, PolicyError> {
    let invalid = |value: &String, reason| PolicyError::CaseInsensitiveKeys {
        value: value.clone(),
        reason,
    };
    for pointer in written {
        match pointer::parse(pointer) {
            Err(reason) => return Err(invalid(pointer, reason)),
            Ok(segments) if segments.is_empty() => {
                return Err(invalid(pointer, "name an object below the document root"))
            }
            Ok(_) => {}
        }
    }
    IgnoreRules::compile(written).map_err(|_| invalid(&written.join(", "), "not a pointer"))
}

/// Keys each array policy by its collapsed pointer (`/orders/17/lines` and
/// `/orders/*/lines` both become `/orders/*/lines`).
fn arrays(
    written: &std::collections::BTreeMap<String, ArrayPolicy>,
) -> Result<HashMap<String, ArrayPolicy>, PolicyError> {
    let mut compiled = HashMap::with_capacity(written.len());
    for (path, policy) in written {
        let segments = pointer::parse(path).map_err(|reason| PolicyError::ArrayPath {
            value: path.clone(),
            reason,
        })?;
        if matches!(policy, ArrayPolicy::Keyed { key } if key.is_empty()) {
            return Err(PolicyError::ArrayKey { path: path.clone() });
        }
        let mut collapsed = String::with_capacity(path.len());
        for segment in &segments {
            collapsed.push('/');
            pointer::push_collapsed(&mut collapsed, segment, false);
        }
        compiled.insert(collapsed, policy.clone());
    }
    Ok(compiled)
}
