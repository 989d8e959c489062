//! The little XML the component reads: the first element of a name, in
//! STS answers and in the XML errors some endpoints send (moto's auth layer).
//! No parser: these answers are flat, and a crate would cost the component.

/// The trimmed text of the first `<name>...</name>` in `text`, entities
/// left as they are (moto's auth errors, STS answers).
pub(crate) fn element<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let start = text.find(&open)? + open.len();
    let end = start + text[start..].find(&format!("</{name}>"))?;
    Some(text[start..end].trim())
}
