// Compiles Boost.URL once for the whole program (Debian ships it as headers only).
#include <boost/url/src.hpp>
