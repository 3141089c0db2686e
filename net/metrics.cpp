#include "net/metrics.hpp"

namespace arca::net {

void Metrics::count_status(unsigned status) {
  if (status < 300) ++responses_2xx;
  else if (status < 400) ++responses_3xx;
  else if (status < 500) ++responses_4xx;
  else ++responses_5xx;
}

std::string Metrics::render() const {
  std::string out;
  auto counter = [&out](const char* name, const char* help, uint64_t value, const char* labels = "") {
    out += "# HELP ";
    out += name;
    out += ' ';
    out += help;
    out += "\n# TYPE ";
    out += name;
    out += " counter\n";
    out += name;
    out += labels;
    out += ' ';
    out += std::to_string(value);
    out += '\n';
  };
  auto line = [&out](const char* name, const char* labels, uint64_t value) {
    out += name;
    out += labels;
    out += ' ';
    out += std::to_string(value);
    out += '\n';
  };
  counter("arca_requests_total", "HTTP requests received.", requests);
  out += "# HELP arca_responses_total HTTP responses by status class.\n# TYPE arca_responses_total counter\n";
  line("arca_responses_total", "{class=\"2xx\"}", responses_2xx);
  line("arca_responses_total", "{class=\"3xx\"}", responses_3xx);
  line("arca_responses_total", "{class=\"4xx\"}", responses_4xx);
  line("arca_responses_total", "{class=\"5xx\"}", responses_5xx);
  out += "# HELP arca_asset_requests_total Asset requests by outcome.\n# TYPE arca_asset_requests_total counter\n";
  line("arca_asset_requests_total", "{outcome=\"hit\"}", asset_hits);
  line("arca_asset_requests_total", "{outcome=\"miss\"}", asset_misses);
  line("arca_asset_requests_total", "{outcome=\"coalesced\"}", asset_coalesced);
  out += "# HELP arca_asset_fills_total Upstream asset fills by result.\n# TYPE arca_asset_fills_total counter\n";
  line("arca_asset_fills_total", "{result=\"ok\"}", asset_fills_ok);
  line("arca_asset_fills_total", "{result=\"failed\"}", asset_fills_failed);
  counter("arca_digest_mismatches_total", "Upstream assets whose bytes did not match their declared digest.",
          digest_mismatches);
  out += "# HELP arca_metadata_requests_total Metadata lookups by outcome.\n# TYPE arca_metadata_requests_total counter\n";
  line("arca_metadata_requests_total", "{outcome=\"hit\"}", metadata_hits);
  line("arca_metadata_requests_total", "{outcome=\"fetch\"}", metadata_fetches);
  line("arca_metadata_requests_total", "{outcome=\"revalidated\"}", metadata_revalidated);
  line("arca_metadata_requests_total", "{outcome=\"stale\"}", metadata_stale_served);
  counter("arca_upstream_requests_total", "Requests sent to upstreams.", upstream_requests);
  counter("arca_upstream_errors_total", "Upstream requests that failed.", upstream_errors);
  counter("arca_bytes_served_total", "Asset bytes sent to clients.", bytes_served);
  counter("arca_bytes_fetched_total", "Asset bytes read from upstreams.", bytes_fetched);
  counter("arca_publishes_total", "Package versions published.", publishes);
  counter("arca_retained_total", "Versions retained from an upstream repository.", retained);
  return out;
}

}  // namespace arca::net
