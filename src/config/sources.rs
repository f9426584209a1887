//! Where settings come from: a variable lookup (the process environment, or a test's map) that
//! collects every problem instead of stopping at the first, and the parsers of single values.

use super::Problem;
use std::fmt;

/// Splits a list, trimming each item and dropping empty ones.
pub(super) fn split_list(value: &str, separator: char) -> Vec<String> {
    value
        .split(separator)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

pub(super) fn parse_bool(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err("use true or false".to_owned()),
    }
}

pub(super) fn parse_bounded<T>(value: &str, min: T, max: T) -> Result<T, String>
where
    T: std::str::FromStr + PartialOrd + fmt::Display + Copy,
{
    match value.parse::<T>() {
        Ok(n) if n >= min && n <= max => Ok(n),
        _ => Err(format!("use a whole number from {min} to {max}")),
    }
}

/// Collects problems while reading variables, so that all are reported together.
pub(super) struct Vars<'a> {
    pub(super) lookup: &'a dyn Fn(&str) -> Option<String>,
    pub(super) problems: Vec<Problem>,
}

impl Vars<'_> {
    pub(super) fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name).map(|v| v.trim().to_owned())
    }

    pub(super) fn problem(&mut self, variable: &'static str, message: String) {
        self.problems.push(Problem { variable, message });
    }

    pub(super) fn parse<T>(
        &mut self,
        name: &'static str,
        default: T,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> T {
        match self.get(name) {
            None => default,
            Some(value) => parse(&value).unwrap_or_else(|message| {
                self.problem(name, format!("{value:?}: {message}"));
                default
            }),
        }
    }
}
