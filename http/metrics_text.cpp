// http::MetricsWriter: the Prometheus text exposition format, version 0.0.4.
#include <cmath>
#include <cstdio>

#include "http/http.h"

namespace tern::http {

namespace {

std::string number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  char buf[32];
  if (v == std::floor(v) && std::fabs(v) < 1e15) std::snprintf(buf, sizeof buf, "%.0f", v);
  else std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

// Label values escape backslash, double quote and line feed.
std::string label_value(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

}  // namespace

void MetricsWriter::family(std::string_view name, std::string_view type, std::string_view help) {
  out_ += "# HELP " + std::string(name) + " " + std::string(help) + "\n";
  out_ += "# TYPE " + std::string(name) + " " + std::string(type) + "\n";
}

void MetricsWriter::sample(std::string_view name,
                           const std::vector<std::pair<std::string_view, std::string_view>>& labels,
                           double value) {
  out_ += name;
  if (!labels.empty()) {
    out_ += '{';
    for (size_t i = 0; i < labels.size(); ++i) {
      if (i) out_ += ',';
      out_ += std::string(labels[i].first) + "=\"" + label_value(labels[i].second) + "\"";
    }
    out_ += '}';
  }
  out_ += " " + number(value) + "\n";
}

void MetricsWriter::histogram(std::string_view name, std::string_view help,
                              const std::vector<double>& bounds, const std::vector<uint64_t>& counts,
                              uint64_t overflow, double sum) {
  family(name, "histogram", help);
  std::string bucket = std::string(name) + "_bucket";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds.size() && i < counts.size(); ++i) {
    cumulative += counts[i];
    std::string le = number(bounds[i]);
    sample(bucket, {{"le", le}}, static_cast<double>(cumulative));
  }
  cumulative += overflow;
  sample(bucket, {{"le", "+Inf"}}, static_cast<double>(cumulative));
  sample(std::string(name) + "_sum", sum);
  sample(std::string(name) + "_count", static_cast<double>(cumulative));
}

}  // namespace tern::http
