// Table: aligned plain-text tables for the client's human output.
//
//   NAME   REVISION  STATE
//   hello  3         healthy
#pragma once

#include <string>
#include <vector>

namespace skiff::cli {

class Table {
 public:
  // Headers are printed as given (upper case by convention).
  explicit Table(std::vector<std::string> headers);

  // A row with fewer cells than headers is padded with empty cells; extra
  // cells are a programmer error (checked).
  void AddRow(std::vector<std::string> cells);
  size_t rows() const { return rows_.size(); }

  // Columns are left-aligned and separated by two spaces; widths count UTF-8
  // code points, so "µs" takes two columns. No trailing spaces; every line,
  // the last included, ends in '\n'.
  std::string Render() const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

// Display width of a UTF-8 string, in code points.
size_t DisplayWidth(const std::string& s);

}  // namespace skiff::cli
