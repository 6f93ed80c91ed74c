// ternctl backup DIR / restore DIR (see ctl/backup.h).
#include <iostream>
#include <memory>
#include <string>

#include "ctl/backup.h"
#include "ctl/commands.h"

namespace tern::ctl {

namespace {

void print(const char* what, const std::string& dir, const CopySummary& s) {
  std::cout << what << " " << dir << ": " << s.databases << " databases, "
            << s.linked + s.copied << " files (" << s.linked << " linked, " << s.copied
            << " copied), " << s.directories << " directories\n";
}

}  // namespace

void register_backup_commands(CLI::App& app, Context& ctx) {
  auto dir = std::make_shared<std::string>();
  CLI::App* backup = app.add_subcommand(
      "backup", "copy data_dir to DIR, consistently, while ternd runs");
  backup->add_option("DIR", *dir, "a new or empty directory")->required();
  backup->callback([&ctx, dir] {
    ctx.action = [dir](Context& c) {
      auto cfg = c.config();
      if (!cfg) return fail(cfg.error());
      auto done = backup_data_dir((*cfg)->data_dir, *dir);
      if (!done) return fail(done.error());
      print("backup", *dir, *done);
      return kExitOk;
    };
  });

  auto from = std::make_shared<std::string>();
  CLI::App* restore = app.add_subcommand(
      "restore", "copy a backup into an empty data_dir (ternd stopped)");
  restore->add_option("DIR", *from, "a directory made by `ternctl backup`")->required();
  restore->callback([&ctx, from] {
    ctx.action = [from](Context& c) {
      auto cfg = c.config();
      if (!cfg) return fail(cfg.error());
      auto done = restore_data_dir(*from, (*cfg)->data_dir);
      if (!done) return fail(done.error());
      print("restored", (*cfg)->data_dir, *done);
      return kExitOk;
    };
  });
}

}  // namespace tern::ctl
