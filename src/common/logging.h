// Logging: spdlog, set up once at start-up. Components log through
// SKIFF_LOG_INFO(...) etc., fmt-style; tests keep the default (warnings and up).
#pragma once

#include <spdlog/spdlog.h>

#include <string_view>

namespace skiff {

// level: "debug", "info", "warn", "error". Call once from main.
void InitLogging(std::string_view level);

}  // namespace skiff

#define SKIFF_LOG_DEBUG(...) ::spdlog::debug(__VA_ARGS__)
#define SKIFF_LOG_INFO(...) ::spdlog::info(__VA_ARGS__)
#define SKIFF_LOG_WARN(...) ::spdlog::warn(__VA_ARGS__)
#define SKIFF_LOG_ERROR(...) ::spdlog::error(__VA_ARGS__)
