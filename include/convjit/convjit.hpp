#pragma once
// The umbrella header a host application includes.
#include <convjit/error.hpp>
#include <convjit/jit.hpp>
#include <convjit/kernel.hpp>
#include <convjit/shape.hpp>
#include <convjit/spec.hpp>
#include <convjit/thread_pool.hpp>
