#include "auth/token_manager.hpp"

#include "common/log.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <random>

namespace arca::auth {

namespace {

std::function<double()> default_jitter() {
  auto rng = std::make_shared<std::mt19937_64>(std::random_device{}());
  auto mu = std::make_shared<std::mutex>();
  return [rng, mu] {
    std::lock_guard lock(*mu);
    return std::uniform_real_distribution<double>(0.0, 1.0)(*rng);
  };
}


}  // namespace

TimePoint refresh_time(TimePoint received, TimePoint expires) {
  using std::chrono::seconds;
  auto lifetime = std::max(expires - received, TimePoint::duration::zero());
  auto quarter = lifetime / 4;
  auto hour = std::min<TimePoint::duration>(std::chrono::hours(1), lifetime / 2);
  return expires - std::max(quarter, hour);
}

TokenManager::TokenManager(TokenManagerOptions options, HttpFetcher& fetcher,
                           CredentialsProvider& credentials, Clock clock,
                           std::function<double()> jitter)
    : options_(std::move(options)),
      http_(fetcher),
      credentials_(credentials),
      clock_(std::move(clock)),
      jitter_(jitter ? std::move(jitter) : default_jitter()) {}

std::string TokenManager::endpoint() const {
  std::string e = options_.endpoint.empty()
                      ? "https://codeartifact." + options_.region + ".amazonaws.com"
                      : options_.endpoint;
  while (!e.empty() && e.back() == '/') {
    e.pop_back();
  }
  return e;
}

TokenState TokenManager::state() const {
  std::lock_guard lock(mu_);
  return state_;
}

void TokenManager::invalidate(std::string_view rejected) {
  std::lock_guard lock(mu_);
  if (!state_.has_token || (!rejected.empty() && rejected != token_)) {
    return;
  }
  forced_ = true;
  state_.next_attempt.reset();  // the forced refresh is not held back by an earlier backoff
}

boost::asio::awaitable<Result<std::string>> TokenManager::token() {
  for (int round = 0; round < 3; ++round) {
    const uint64_t seen = gate_.generation();
    {
      std::lock_guard lock(mu_);
      const TimePoint now = clock_();
      const bool valid = state_.has_token && !forced_ && now < *state_.expires_at;
      const bool due = !state_.has_token || forced_ || now >= *state_.refresh_at;
      const bool backing_off = state_.next_attempt && now < *state_.next_attempt;
      if (valid && (!due || backing_off)) {
        co_return token_;
      }
      if (!valid && backing_off && last_failure_) {
        co_return *last_failure_;
      }
    }
    if (gate_.try_lead()) {
      auto fetched = co_await fetch_token();
      Result<std::string> out = make_error(Errc::internal, "");
      {
        std::lock_guard lock(mu_);
        const TimePoint now = clock_();
        if (fetched) {
          token_ = std::move(fetched->token);
          forced_ = false;
          state_.has_token = true;
          state_.expires_at = fetched->expires;
          state_.refresh_at = refresh_time(now, fetched->expires);
          state_.last_refresh = now;
          state_.next_attempt.reset();
          state_.consecutive_failures = 0;
          state_.last_error.clear();
          ++state_.refreshes;
          last_failure_.reset();
          out = token_;
        } else {
          ++state_.failures;
          ++state_.consecutive_failures;
          state_.last_error = fetched.error().message;
          last_failure_ = fetched.error();
          const auto exp = std::min<uint64_t>(state_.consecutive_failures - 1, 20);
          // A retry must come well within a token's lifetime: the cap is also a quarter of the
          // last token's lifetime (at least one second), which matters for short tokens.
          auto cap = std::chrono::duration_cast<TimePoint::duration>(options_.backoff_cap);
          if (state_.expires_at && state_.last_refresh) {
            const auto quarter = (*state_.expires_at - *state_.last_refresh) / 4;
            cap = std::max<TimePoint::duration>(std::chrono::seconds(1), std::min(cap, quarter));
          }
          const auto raw = std::min<TimePoint::duration>(
              cap, std::chrono::duration_cast<TimePoint::duration>(options_.backoff_base *
                                                                   (int64_t{1} << exp)));
          const double factor = 0.5 + 0.5 * std::clamp(jitter_(), 0.0, 1.0);
          state_.next_attempt = now + std::chrono::duration_cast<TimePoint::duration>(raw * factor);
          const bool valid = state_.has_token && !forced_ && now < *state_.expires_at;
          // The message names the domain and owner; it never holds the token or a key.
          ARCA_LOG_WARN("{} (refresh failure {} in a row{})", fetched.error().message,
                        state_.consecutive_failures,
                        valid ? ", the current token stays in use" : "");
          if (valid) {
            out = token_;
          } else {
            out = fetched.error();
          }
        }
      }
      gate_.finish();
      co_return out;
    }
    {
      // Another caller is refreshing: the current token serves until it expires.
      std::lock_guard lock(mu_);
      if (state_.has_token && !forced_ && clock_() < *state_.expires_at) {
        co_return token_;
      }
    }
    co_await gate_.wait();
    if (gate_.generation() != seen) {
      std::lock_guard lock(mu_);
      const bool valid = state_.has_token && !forced_ && clock_() < *state_.expires_at;
      if (valid) {
        co_return token_;
      }
      if (last_failure_) {
        co_return *last_failure_;
      }
    }
  }
  co_return make_error(Errc::unavailable, "codeartifact token: no token available");
}

boost::asio::awaitable<Result<TokenManager::Fetched>> TokenManager::fetch_token() {
  const std::string what =
      "codeartifact token for domain " + options_.domain + " (owner " + options_.domain_owner + ")";
  auto creds = co_await credentials_.resolve();
  if (!creds) {
    co_return make_error(creds.error().code, what + ": " + creds.error().message);
  }
  const TimePoint now = clock_();
  if (creds->expiration && *creds->expiration <= now) {
    co_return make_error(Errc::unauthorized,
                         what + ": the AWS credentials from " + creds->provider + " have expired");
  }

  std::string query = "domain=" + uri_encode(options_.domain, false) +
                      "&domain-owner=" + uri_encode(options_.domain_owner, false);
  if (options_.duration_seconds > 0) {
    query += "&duration=" + std::to_string(options_.duration_seconds);
  }
  HttpRequest req;
  req.method = "POST";
  req.url = endpoint() + "/v1/authorization-token?" + query;
  auto parsed = boost::urls::parse_uri(req.url);
  if (!parsed) {
    co_return make_error(Errc::invalid_argument,
                         what + ": bad endpoint " + log::redact_url(endpoint()));
  }
  std::string host(parsed->encoded_host_address());
  if (parsed->has_port()) {
    host += ":" + std::string(parsed->port());
  }
  req.headers.emplace_back("Host", host);
  req.headers.emplace_back("Accept", "application/json");
  SignOptions opts;
  opts.region = options_.region;
  opts.service = "codeartifact";
  sign(req.method, std::string(parsed->encoded_path()), std::string(parsed->encoded_query()),
       req.headers, req.body, creds->keys, opts, now);

  auto response = co_await http_.fetch(std::move(req));
  if (!response) {
    co_return make_error(response.error().code,
                         what + ": GetAuthorizationToken failed: " + response.error().message);
  }
  if (response->status / 100 != 2) {
    std::string detail = aws_error_detail(*response);
    Errc code =
        response->status == 401 || response->status == 403 ? Errc::forbidden : Errc::upstream_error;
    // Naming the provider tells which credentials were refused (never the keys themselves).
    co_return make_error(code, what + ": GetAuthorizationToken returned HTTP " +
                                   std::to_string(response->status) +
                                   (detail.empty() ? "" : " (" + detail + ")") +
                                   " with credentials from " + creds->provider);
  }
  auto j = nlohmann::json::parse(response->body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    co_return make_error(Errc::upstream_error,
                         what + ": GetAuthorizationToken answered with invalid JSON");
  }
  auto tok = j.find("authorizationToken");
  if (tok == j.end() || !tok->is_string() || tok->get<std::string>().empty()) {
    co_return make_error(Errc::upstream_error,
                         what + ": GetAuthorizationToken answer has no authorizationToken");
  }
  std::optional<TimePoint> expires;
  if (auto e = j.find("expiration"); e != j.end()) {
    if (e->is_number() && std::isfinite(e->get<double>()) && e->get<double>() > 0 &&
        e->get<double>() < 1e11) {
      expires = TimePoint(std::chrono::duration_cast<TimePoint::duration>(
          std::chrono::duration<double>(e->get<double>())));
    } else if (e->is_string()) {
      expires = parse_iso8601(e->get<std::string>());
    }
  }
  if (!expires) {
    co_return make_error(Errc::upstream_error,
                         what + ": GetAuthorizationToken answer has no valid expiration");
  }
  if (*expires <= now) {
    co_return make_error(Errc::upstream_error,
                         what + ": GetAuthorizationToken returned an already expired token");
  }
  co_return Fetched{tok->get<std::string>(), *expires};
}

std::string aws_error_detail(const HttpResponse& r) {
  std::string out;
  if (auto type = find_header(r.headers, "x-amzn-ErrorType")) {
    out = type->substr(0, type->find(':'));
  }
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (!j.is_discarded() && j.is_object()) {
    for (const char* key : {"message", "Message"}) {
      auto it = j.find(key);
      if (it != j.end() && it->is_string()) {
        out += (out.empty() ? "" : ": ") + it->get<std::string>().substr(0, 300);
        break;
      }
    }
  }
  return out;
}

}  // namespace arca::auth
