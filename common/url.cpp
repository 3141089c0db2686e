#include "common/url.hpp"

#include <boost/url/decode_view.hpp>
#include <boost/url/encoding_opts.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/pct_string_view.hpp>
#include <boost/url/url_view.hpp>

#include <cctype>

namespace arca {

std::optional<std::string> percent_decode(std::string_view s, bool plus_as_space) {
  auto pct = boost::urls::make_pct_string_view(s);
  if (!pct) return std::nullopt;
  boost::urls::encoding_opts opts;
  opts.space_as_plus = plus_as_space;
  std::string out;
  pct->decode(opts, boost::urls::string_token::assign_to(out));
  return out;
}

std::optional<Authority> http_authority(std::string_view url) {
  auto u = boost::urls::parse_absolute_uri(url);
  if (!u) return std::nullopt;
  std::string scheme(u->scheme());
  for (auto& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (scheme != "http" && scheme != "https") return std::nullopt;
  Authority a;
  a.host = u->encoded_host();
  if (a.host.empty()) return std::nullopt;
  for (auto& c : a.host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (u->has_port()) {
    auto p = u->port_number();
    if (p == 0) return std::nullopt;
    a.port = p;
  } else {
    a.port = scheme == "https" ? 443 : 80;
  }
  return a;
}

}  // namespace arca
