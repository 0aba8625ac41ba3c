#include "api/log_source.h"

#include <gtest/gtest.h>

#include <fstream>

#include "fakes/testing.h"
#include "store/memory/memory_store.h"

namespace skiff::api {
namespace {

using Lines = std::vector<std::string>;

// Verify that TailFile returns the last n lines, with or without a final newline.
TEST(TailFileTest, LastLines) {
  skiff::testing::TempDir dir;
  std::ofstream(dir.File("a")) << "1\n2\n3\n";
  EXPECT_EQ(*TailFile(dir.File("a"), 2), (Lines{"2", "3"}));
  EXPECT_EQ(*TailFile(dir.File("a"), 10), (Lines{"1", "2", "3"}));
  EXPECT_EQ(*TailFile(dir.File("a"), 0), Lines{});
  std::ofstream(dir.File("b")) << "x\ny";
  EXPECT_EQ(*TailFile(dir.File("b"), 1), (Lines{"y"}));
  EXPECT_EQ(*TailFile(dir.File("missing"), 3), Lines{});
}

// Verify that TailFile finds lines across its 64 KiB read blocks.
TEST(TailFileTest, LargeFile) {
  skiff::testing::TempDir dir;
  {
    std::ofstream out(dir.File("big"));
    for (int i = 0; i < 20000; ++i) out << "line " << i << "\n";
  }
  Lines lines = *TailFile(dir.File("big"), 3);
  EXPECT_EQ(lines, (Lines{"line 19997", "line 19998", "line 19999"}));
  EXPECT_EQ(TailFile(dir.File("big"), 15000)->front(), "line 5000");
}

class FileLogSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    model::App app;
    app.name = "hello";
    store::Txn txn;
    txn.Put(app, store::kMustNotExist);
    ASSERT_TRUE(store_.Commit(txn));
    AddInstance("hello-1", 1);
  }
  void AddInstance(const std::string& id, int seconds) {
    model::Instance i;
    i.id = id;
    i.app = "hello";
    i.created_at = Time(std::chrono::seconds(seconds));
    store::Txn txn;
    txn.Put(i, store::kMustNotExist);
    ASSERT_TRUE(store_.Commit(txn));
  }
  void Append(const std::string& id, const std::string& text) {
    std::ofstream(dir_.File(id + ".log"), std::ios::app) << text;
  }

  skiff::testing::TempDir dir_;
  store::MemoryStore store_;
  FileLogSource source_{&store_, dir_.path()};
};

// Verify that a cursor returns only complete new lines, and picks up new instances.
TEST_F(FileLogSourceTest, FollowReturnsNewLines) {
  Append("hello-1", "before\n");
  auto cursor = source_.Follow("hello");
  ASSERT_TRUE(cursor);
  EXPECT_EQ(*(*cursor)->Poll(), Lines{});
  Append("hello-1", "a\npart");
  EXPECT_EQ(*(*cursor)->Poll(), (Lines{"hello-1 | a"}));
  Append("hello-1", "ial\n");
  EXPECT_EQ(*(*cursor)->Poll(), (Lines{"hello-1 | partial"}));
  AddInstance("hello-2", 2);
  Append("hello-2", "fresh\n");
  EXPECT_EQ(*(*cursor)->Poll(), (Lines{"hello-2 | fresh"}));
}

// Verify that Tail merges instances in creation order and unknown apps are kNotFound.
TEST_F(FileLogSourceTest, TailAndUnknownApp) {
  AddInstance("hello-2", 2);
  Append("hello-2", "b1\nb2\n");
  Append("hello-1", "a1\na2\n");
  EXPECT_EQ(*source_.Tail("hello", 1), (Lines{"hello-1 | a2", "hello-2 | b2"}));
  EXPECT_EQ(source_.Tail("nope", 1).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(source_.Follow("nope").error().code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace skiff::api
