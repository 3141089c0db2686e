#include "common/url.hpp"

#include <boost/url/decode_view.hpp>
#include <boost/url/encoding_opts.hpp>
#include <boost/url/pct_string_view.hpp>

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

}  // namespace arca
