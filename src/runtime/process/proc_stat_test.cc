#include "runtime/process/proc_stat.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>

namespace skiff::runtime::process {
namespace {

// Verify that a stat line is parsed by field number, even with a command name
// holding spaces and parentheses.
TEST(ParseProcStatTest, ParsesFieldsAfterTrickyCommandName) {
  const char* line =
      "4242 (my (odd) app) S 1 4242 4242 0 -1 4194560 500 0 0 0 17 5 0 0 20 0 3 0 "
      "123456 10000000 321 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
  auto st = ParseProcStat(line);
  ASSERT_TRUE(st.has_value()) << st.error().ToString();
  EXPECT_EQ(st->pid, 4242);
  EXPECT_EQ(st->state, 'S');
  EXPECT_EQ(st->ppid, 1);
  EXPECT_EQ(st->pgrp, 4242);
  EXPECT_EQ(st->session, 4242);
  EXPECT_EQ(st->utime_ticks, 17u);
  EXPECT_EQ(st->stime_ticks, 5u);
  EXPECT_EQ(st->start_ticks, 123456u);
  EXPECT_EQ(st->rss_pages, 321);
  EXPECT_FALSE(st->Finished());
}

// Verify that a zombie counts as finished.
TEST(ParseProcStatTest, ZombieIsFinished) {
  auto st = ParseProcStat("7 (x) Z 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 99 0 0 0");
  ASSERT_TRUE(st.has_value()) << st.error().ToString();
  EXPECT_TRUE(st->Finished());
}

// Verify that garbage is rejected with kInvalidArgument.
TEST(ParseProcStatTest, RejectsGarbage) {
  auto no_name = ParseProcStat("hello");
  ASSERT_FALSE(no_name.has_value());
  EXPECT_EQ(no_name.error().code, ErrorCode::kInvalidArgument);
  auto short_line = ParseProcStat("1 (a) S 1 2 3");
  ASSERT_FALSE(short_line.has_value());
  EXPECT_EQ(short_line.error().code, ErrorCode::kInvalidArgument);
  auto bad_number = ParseProcStat("1 (a) S x 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 99 0 0 0");
  ASSERT_FALSE(bad_number.has_value());
  EXPECT_EQ(bad_number.error().code, ErrorCode::kInvalidArgument);
}

// Verify that our own process reads back with our pid and a live state.
TEST(ReadProcStatTest, ReadsSelf) {
  auto st = ReadProcStat(getpid());
  ASSERT_TRUE(st.has_value()) << st.error().ToString();
  EXPECT_EQ(st->pid, getpid());
  EXPECT_EQ(st->pgrp, getpgrp());
  EXPECT_GT(st->start_ticks, 0u);
  EXPECT_GT(st->rss_pages, 0);
  EXPECT_FALSE(st->Finished());
}

// Verify that a pid that cannot exist is kNotFound.
TEST(ReadProcStatTest, MissingIsNotFound) {
  auto st = ReadProcStat(0x3fffffff);
  ASSERT_FALSE(st.has_value());
  EXPECT_EQ(st.error().code, ErrorCode::kNotFound);
}

// Verify that the pid listing and group scan include ourselves.
TEST(ReadProcStatTest, ListsSelfAndGroup) {
  auto pids = ListPids();
  EXPECT_NE(std::find(pids.begin(), pids.end(), getpid()), pids.end());
  auto members = ProcessGroupMembers(getpgrp());
  EXPECT_TRUE(std::any_of(members.begin(), members.end(),
                          [](const ProcStat& s) { return s.pid == getpid(); }));
  EXPECT_GT(BootTimeSeconds(), 0);
  EXPECT_GT(UptimeSeconds(), 0.0);
  EXPECT_GT(ClockTicksPerSecond(), 0);
}

}  // namespace
}  // namespace skiff::runtime::process
