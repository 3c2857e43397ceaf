//! Aligned Markdown tables for terminal reports (also valid Markdown).

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// A table with a header row; columns are aligned when displayed.
#[derive(Clone, Debug)]
pub struct Table {
    headers: Vec<String>,
    align: Vec<Align>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// `columns` are `(header, alignment)` pairs.
    pub fn new(columns: &[(&str, Align)]) -> Self {
        Table {
            headers: columns.iter().map(|(h, _)| h.to_string()).collect(),
            align: columns.iter().map(|(_, a)| *a).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row<I, S>(&mut self, cells: I)
    where
        I: IntoIterator<Item = S>,
        S: ToString,
    {
        let row: Vec<String> = cells.into_iter().map(|c| c.to_string()).collect();
        assert_eq!(
            row.len(),
            self.headers.len(),
            "row width must match the header"
        );
        self.rows.push(row);
    }

    fn widths(&self) -> Vec<usize> {
        (0..self.headers.len())
            .map(|c| {
                std::iter::once(&self.headers[c])
                    .chain(self.rows.iter().map(|r| &r[c]))
                    .map(|s| s.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect()
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let widths = self.widths();
        let line = |f: &mut fmt::Formatter<'_>, cells: &[String]| -> fmt::Result {
            for (c, cell) in cells.iter().enumerate() {
                let w = widths[c];
                match self.align[c] {
                    Align::Left => write!(f, "| {cell:<w$} ")?,
                    Align::Right => write!(f, "| {cell:>w$} ")?,
                }
            }
            writeln!(f, "|")
        };
        line(f, &self.headers)?;
        for (c, w) in widths.iter().enumerate() {
            match self.align[c] {
                Align::Left => write!(f, "|{}", "-".repeat(w + 2))?,
                Align::Right => write!(f, "|{}:", "-".repeat(w + 1))?,
            }
        }
        writeln!(f, "|")?;
        for row in &self.rows {
            line(f, row)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_columns() {
        let mut t = Table::new(&[("name", Align::Left), ("n", Align::Right)]);
        t.row(["a", "10"]);
        t.row(["long", "2"]);
        assert_eq!(
            t.to_string(),
            "| name |  n |\n|------|---:|\n| a    | 10 |\n| long |  2 |\n"
        );
    }
}
