#include "cli/table.h"

#include <gtest/gtest.h>

namespace skiff::cli {
namespace {

// Verify that columns are aligned to the widest cell with two spaces and no trailing blanks.
TEST(TableTest, AlignsColumns) {
  Table t({"NAME", "REVISION", "STATE"});
  t.AddRow({"hello", "3", "healthy"});
  t.AddRow({"a-much-longer-name", "12", ""});
  EXPECT_EQ(t.Render(),
            "NAME                REVISION  STATE\n"
            "hello               3         healthy\n"
            "a-much-longer-name  12\n");
}

// Verify that a header-only table renders its header, and short rows are padded.
TEST(TableTest, EmptyAndShortRows) {
  Table t({"A", "B"});
  EXPECT_EQ(t.Render(), "A  B\n");
  t.AddRow({"x"});
  EXPECT_EQ(t.Render(), "A  B\nx\n");
  EXPECT_EQ(t.rows(), 1u);
}

// Verify that multi-byte UTF-8 cells are measured in code points.
TEST(TableTest, Utf8Width) {
  EXPECT_EQ(DisplayWidth("µs"), 2u);
  Table t({"U", "V"});
  t.AddRow({"µµ", "1"});
  t.AddRow({"ab", "2"});
  EXPECT_EQ(t.Render(), "U   V\nµµ  1\nab  2\n");
}

}  // namespace
}  // namespace skiff::cli
