#include "common/log.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <unistd.h>

namespace tern {

void init_logging(const std::string& level) {
  std::shared_ptr<spdlog::logger> logger;
  if (isatty(STDERR_FILENO))
    logger = spdlog::stderr_color_mt("tern");
  else
    logger = spdlog::stderr_logger_mt("tern");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  logger->set_level(spdlog::level::from_str(level));
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
}

}  // namespace tern
