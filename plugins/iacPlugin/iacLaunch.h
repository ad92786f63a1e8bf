/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * The host side of one IAC call, written once for the CUDA launcher (iacKernel.cu) and for its
 * CPU twin (iacEmulate.h): argument checks, workspace, plan, the N-iteration ping-pong and the
 * dispatch on k and vector width. What runs one iteration is the Runner's business: a kernel
 * launch on a stream, or the emulation of every block. Host code only; no CUDA header.
 */
#ifndef IFAN_IAC_LAUNCH_H
#define IFAN_IAC_LAUNCH_H

#include <cstddef>
#include <cstdint>

#include "iacMath.h"
#include "iacTile.h"

namespace ifan
{
namespace iac
{

//! The statuses a call returns, with the values of the cudaError_t they stand for (iacKernel.cu
//! checks that they agree), so that the CPU twin answers as the CUDA library does.
enum Status : int32_t
{
    kSTATUS_SUCCESS = 0,               //!< cudaSuccess
    kSTATUS_INVALID_VALUE = 1,         //!< cudaErrorInvalidValue
    kSTATUS_INVALID_CONFIGURATION = 9, //!< cudaErrorInvalidConfiguration
};

//! cudaGetErrorName of the statuses above (nullptr for any other value).
inline char const* statusName(int32_t status)
{
    switch (status)
    {
    case kSTATUS_SUCCESS: return "cudaSuccess";
    case kSTATUS_INVALID_VALUE: return "cudaErrorInvalidValue";
    case kSTATUS_INVALID_CONFIGURATION: return "cudaErrorInvalidConfiguration";
    default: return nullptr;
    }
}

constexpr size_t kWORKSPACE_ALIGNMENT = 256;

//! Scratch bytes for a problem of element size elemBytes: one feature map when N > 1 (iterations
//! ping-pong between it and the output), plus alignment slack.
inline size_t workspaceBytes(Problem const& problem, size_t elemBytes)
{
    if (problem.N <= 1)
    {
        return 0;
    }
    size_t const elements = static_cast<size_t>(problem.B) * problem.C * problem.H * problem.W;
    return elements * elemBytes + kWORKSPACE_ALIGNMENT;
}

//! ifan_iac_workspace_bytes of the C ABI (iacCudaApi.h): 0 for a negative size, which the run
//! functions refuse.
inline size_t abiWorkspaceBytes(
    int32_t batch, int32_t channels, int32_t height, int32_t width, int32_t iterations, size_t elemBytes)
{
    if (batch < 0 || channels < 0 || height < 0 || width < 0)
    {
        return 0;
    }
    return workspaceBytes(Problem{batch, channels, height, width, iterations, 1, 0, 0, 0.0F}, elemBytes);
}

inline bool isAligned(void const* p, size_t bytes)
{
    return reinterpret_cast<uintptr_t>(p) % bytes == 0;
}

//! The N iterations with kernel width K and vector width VEC: runner.template iteration<K, VEC>(args)
//! runs one (returns a Status, or the CUDA error of the launch); the last one writes out.
template <int K, int VEC, typename T, typename Runner>
int32_t runIterations(Problem const& problem, Plan const& plan, T const* features, T const* filters, T* out,
    T* scratch, Runner& runner)
{
    T const* src = features;
    for (int32_t i = 0; i < problem.N; ++i)
    {
        // the last iteration writes out; earlier ones alternate so that src != dst
        T* dst = ((problem.N - 1 - i) % 2 == 0) ? out : scratch;
        IterArgs<T> const args{problem, plan, i, src, filters, dst};
        int32_t const status = runner.template iteration<K, VEC>(args);
        if (status != kSTATUS_SUCCESS)
        {
            return status;
        }
        src = dst;
    }
    return kSTATUS_SUCCESS;
}

template <int K, typename T, typename Runner>
int32_t dispatchVec(Problem const& problem, Plan const& plan, T const* features, T const* filters, T* out,
    T* scratch, Runner& runner)
{
    if (plan.vec == 4)
    {
        return runIterations<K, 4>(problem, plan, features, filters, out, scratch, runner);
    }
    return runIterations<K, 1>(problem, plan, features, filters, out, scratch, runner);
}

//! All N iterations of the IAC: features [B, C, H, W] and filters [B, Cf, H, W] to out [B, C, H, W]
//! (linear NCHW, T the element type), scratch from workspace (workspaceBytes()). vectorise = false
//! keeps the plan scalar even where the buffers would allow VEC = 4 (the CPU reference tests both).
template <typename T, typename Runner>
int32_t runIac(Problem const& problem, T const* features, T const* filters, T* out, void* workspace,
    size_t workspaceSize, Runner& runner, bool vectorise = true)
{
    if (problemError(problem) != nullptr)
    {
        return kSTATUS_INVALID_VALUE;
    }
    if (static_cast<int64_t>(problem.B) * problem.C * problem.H * problem.W == 0)
    {
        return kSTATUS_SUCCESS; // empty tensor: nothing to do
    }
    size_t const needed = workspaceBytes(problem, sizeof(T));
    if (features == nullptr || filters == nullptr || out == nullptr || (needed > 0 && workspace == nullptr)
        || workspaceSize < needed)
    {
        return kSTATUS_INVALID_VALUE;
    }
    // scratch starts at the first aligned address of the workspace (slack is in workspaceBytes)
    uintptr_t const base = reinterpret_cast<uintptr_t>(workspace);
    uintptr_t const start = (base + kWORKSPACE_ALIGNMENT - 1) / kWORKSPACE_ALIGNMENT * kWORKSPACE_ALIGNMENT;
    T* const scratch = needed > 0 ? reinterpret_cast<T*>(start) : nullptr;

    size_t const vecBytes = 4 * sizeof(T);
    bool const canVectorise = vectorise && isAligned(features, vecBytes) && isAligned(filters, vecBytes)
        && isAligned(out, vecBytes);
    Plan const plan = makePlan(problem, canVectorise);
    // grid: tiles in x (up to 2^31 - 1), planes B * C in y (up to 65535: B <= 511 at c = 128)
    if (static_cast<int64_t>(plan.tilesX) * plan.tilesY > 0x7FFFFFFF
        || static_cast<int64_t>(problem.B) * problem.C > 65535)
    {
        return kSTATUS_INVALID_CONFIGURATION;
    }
    switch (problem.k)
    {
    case 1: return dispatchVec<1>(problem, plan, features, filters, out, scratch, runner);
    case 3: return dispatchVec<3>(problem, plan, features, filters, out, scratch, runner);
    case 5: return dispatchVec<5>(problem, plan, features, filters, out, scratch, runner);
    case 7: return dispatchVec<7>(problem, plan, features, filters, out, scratch, runner);
    default: return kSTATUS_INVALID_VALUE;
    }
}

} // namespace iac
} // namespace ifan

#endif // IFAN_IAC_LAUNCH_H
