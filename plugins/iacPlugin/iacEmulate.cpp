/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * The CPU reference of the IAC kernel: runIac (iacLaunch.h) with the emulated launch
 * (iacEmulate.h), on float buffers, in FP32 or through half storage. Built without CUDA into a
 * small shared library that the tests call through ctypes.
 */
#include "iacEmulate.h"

#include <cstdint>
#include <vector>

#if defined(__GNUC__)
#define IFAN_EXPORT extern "C" __attribute__((visibility("default")))
#else
#define IFAN_EXPORT extern "C"
#endif

namespace
{

using namespace ifan::iac;

template <typename T>
int32_t emulate(Problem const& p, T const* features, T const* filters, T* out, bool vectorise)
{
    std::vector<unsigned char> workspace(workspaceBytes(p, sizeof(T)));
    CpuRunner runner;
    return runIac(p, features, filters, out, workspace.data(), workspace.size(), runner, vectorise);
}

std::vector<HalfBits> toHalf(float const* data, size_t n)
{
    std::vector<HalfBits> h(n);
    for (size_t i = 0; i < n; ++i)
    {
        h[i] = HalfBits{floatToHalfBits(data[i])};
    }
    return h;
}

} // namespace

//! The IAC as the GPU computes it. half_storage != 0 runs the FP16 kernel (inputs rounded to
//! half, FP32 accumulation, each iteration's output rounded to half); vectorise != 0 lets the
//! plan use 4-element groups where W allows. Returns 0, or 1 with the reason in *error.
IFAN_EXPORT int ifan_iac_emulate(float const* features, float const* filters, float* out, int32_t B, int32_t C,
    int32_t H, int32_t W, int32_t N, int32_t k, int32_t mode, int32_t layout, float slope, int32_t half_storage,
    int32_t vectorise, char const** error)
{
    Problem const p{B, C, H, W, N, k, mode, layout, slope};
    char const* reason = problemError(p);
    if (reason != nullptr)
    {
        if (error != nullptr)
        {
            *error = reason;
        }
        return 1;
    }
    size_t const n = static_cast<size_t>(B) * C * H * W;
    if (n == 0)
    {
        return 0;
    }
    int32_t status = kSTATUS_SUCCESS;
    if (half_storage == 0)
    {
        status = emulate<float>(p, features, filters, out, vectorise != 0);
    }
    else
    {
        size_t const nf = static_cast<size_t>(B) * static_cast<size_t>(filterChannels(N, C, k, layout)) * H * W;
        std::vector<HalfBits> const x = toHalf(features, n);
        std::vector<HalfBits> const f = toHalf(filters, nf);
        std::vector<HalfBits> y(n);
        status = emulate<HalfBits>(p, x.data(), f.data(), y.data(), vectorise != 0);
        for (size_t i = 0; status == kSTATUS_SUCCESS && i < n; ++i)
        {
            out[i] = halfBitsToFloat(y[i].bits);
        }
    }
    if (status != kSTATUS_SUCCESS)
    {
        if (error != nullptr)
        {
            *error = statusName(status);
        }
        return 1;
    }
    return 0;
}

//! The plan the kernel would use: vec, groups, rows, halo, tilesX, tilesY, smemCols, smemBytes.
IFAN_EXPORT void ifan_iac_plan(int32_t B, int32_t C, int32_t H, int32_t W, int32_t N, int32_t k, int32_t vectorise,
    int64_t* fields)
{
    Problem const p{B, C, H, W, N, k, 0, 0, 0.1F};
    Plan const plan = makePlan(p, vectorise != 0);
    int64_t const values[] = {plan.vec, plan.groups, plan.rows, plan.halo, plan.tilesX, plan.tilesY,
        plan.smemCols, plan.smemBytes};
    for (int i = 0; i < 8; ++i)
    {
        fields[i] = values[i];
    }
}

//! Round floats to IEEE half and back (the host conversion the FP16 emulation uses).
IFAN_EXPORT void ifan_iac_round_half(float const* in, float* out, int64_t n)
{
    for (int64_t i = 0; i < n; ++i)
    {
        out[i] = halfBitsToFloat(floatToHalfBits(in[i]));
    }
}
