// Shared by the auth unit tests: a fresh accounts.db in a temporary directory.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "auth/auth.h"

class AuthDbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tern-auth-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    db_path_ = dir_ + "/accounts.db";
    db_ = open_db();
    ASSERT_NE(db_, nullptr);
  }
  void TearDown() override {
    db_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::unique_ptr<tern::auth::AccountDb> open_db() {
    tern::auth::AccountDb::Options o;
    o.cost = tern::auth::HashCost::minimum;  // fast hashes for tests
    auto r = tern::auth::AccountDb::open(db_path_, o);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? std::move(*r) : nullptr;
  }

  std::string dir_, db_path_;
  std::unique_ptr<tern::auth::AccountDb> db_;
};

#define ASSERT_OK(expr)                                                   \
  do {                                                                    \
    auto _s = (expr);                                                     \
    ASSERT_TRUE(_s.ok()) << #expr << ": " << (_s.ok() ? "" : _s.error().message); \
  } while (0)
