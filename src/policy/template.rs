//! The segments of an API Gateway route template (`/pets/{petId}`, `/{proxy+}`), read alike by
//! the route rules, the events' route templates and the Cedar route list.

/// A segment of a route template. API Gateway's path variables are whole segments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Segment<'a> {
    /// Matched as written.
    Literal(&'a str),
    /// `{name}`: one segment.
    Parameter,
    /// `{name+}`: the rest of the path.
    Greedy,
}

impl<'a> Segment<'a> {
    /// A template segment; a brace anywhere but around a whole name leaves it a literal (which
    /// [`Segment::is_malformed`] tells apart).
    pub fn of(segment: &'a str) -> Self {
        match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(name) if name.is_empty() || name.contains(['{', '}', '/']) => {
                Segment::Literal(segment)
            }
            Some(name) if name.ends_with('+') => match name.len() {
                1 => Segment::Literal(segment),
                _ => Segment::Greedy,
            },
            Some(_) => Segment::Parameter,
            None => Segment::Literal(segment),
        }
    }

    /// A literal holding a brace (`v{version}`, `{}`): no route API Gateway can have.
    pub fn is_malformed(self) -> bool {
        matches!(self, Segment::Literal(s) if s.contains(['{', '}']))
    }
}

#[cfg(test)]
mod tests {
    use super::Segment::{self, Greedy, Literal, Parameter};

    #[test]
    fn a_path_variable_is_a_whole_segment() {
        for (segment, read, malformed) in [
            ("pets", Literal("pets"), false),
            ("{petId}", Parameter, false),
            ("{proxy+}", Greedy, false),
            ("v{version}", Literal("v{version}"), true),
            ("{version}.json", Literal("{version}.json"), true),
            ("{}", Literal("{}"), true),
            ("{+}", Literal("{+}"), true),
            ("{a{b}", Literal("{a{b}"), true),
        ] {
            assert_eq!(Segment::of(segment), read, "{segment}");
            assert_eq!(read.is_malformed(), malformed, "{segment}");
        }
    }
}
