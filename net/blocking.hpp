#pragma once
// Runs blocking work (RocksDB, fsync) on the blocking thread pool and resumes the calling
// coroutine on its own executor (STYLE.md §19). Include only from .cpp files.

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <optional>
#include <type_traits>
#include <utility>

namespace arca::net {

template <class F>
auto offload(boost::asio::thread_pool& pool, F f)
    -> boost::asio::awaitable<std::invoke_result_t<F&>> {
  using R = std::invoke_result_t<F&>;
  return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void(R)>(
      [&pool](auto handler, F fn) {
        auto ex = boost::asio::get_associated_executor(handler);
        boost::asio::post(pool, [fn = std::move(fn), handler = std::move(handler), ex]() mutable {
          R result = fn();
          boost::asio::post(ex, [handler = std::move(handler), result = std::move(result)]() mutable {
            std::move(handler)(std::move(result));
          });
        });
      },
      boost::asio::use_awaitable, std::move(f));
}

}  // namespace arca::net
