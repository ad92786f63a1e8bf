/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * CPU emulation of the IAC kernel launch: the same plan and the same tile phases as
 * iacKernel.cu (iacTile.h), run over every block and thread in turn, with a barrier between
 * phases simply meaning "all threads of the block finished the previous phase". Built without
 * CUDA into a small shared library that the tests call through ctypes.
 */
#include "iacTile.h"

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

template <typename T, int K, int VEC>
void runIterations(Problem const& p, Plan const& plan, T const* features, T const* filters, T* out)
{
    std::vector<T> scratch(static_cast<size_t>(p.B) * p.C * p.H * p.W);
    std::vector<float> smem(static_cast<size_t>(plan.smemBytes / sizeof(float)));
    int32_t const nThreads = plan.groups * plan.rows;
    std::vector<ThreadState<K, VEC>> states(static_cast<size_t>(nThreads));
    T const* src = features;
    for (int32_t i = 0; i < p.N; ++i)
    {
        T* dst = ((p.N - 1 - i) % 2 == 0) ? out : scratch.data();
        IterArgs<T> const args{p, plan, i, src, filters, dst};
        for (int32_t plane = 0; plane < p.B * p.C; ++plane)
        {
            for (int32_t tileIndex = 0; tileIndex < plan.tilesX * plan.tilesY; ++tileIndex)
            {
                Tile const tile = tileOf(p, plan, plane, tileIndex);
                // poison shared memory: a read of a value no phase wrote shows up as NaN
                for (float& v : smem)
                {
                    v = __builtin_nanf("");
                }
                for (int32_t tid = 0; tid < nThreads; ++tid)
                {
                    loadFeatureTile<T, K, VEC>(args, tile, smem.data(), tid, nThreads);
                }
                for (int32_t tid = 0; tid < nThreads; ++tid)
                {
                    verticalPass<T, K, VEC>(args, tile, smem.data(), tid % plan.groups, tid / plan.groups, states[tid]);
                }
                for (int32_t tid = 0; tid < nThreads; ++tid)
                {
                    horizontalPass<T, K, VEC>(args, tile, smem.data(), tid % plan.groups, tid / plan.groups, states[tid]);
                }
            }
        }
        src = dst;
    }
}

template <typename T, int K>
void dispatchVec(Problem const& p, Plan const& plan, T const* features, T const* filters, T* out)
{
    if (plan.vec == 4)
    {
        runIterations<T, K, 4>(p, plan, features, filters, out);
    }
    else
    {
        runIterations<T, K, 1>(p, plan, features, filters, out);
    }
}

template <typename T>
void dispatch(Problem const& p, Plan const& plan, T const* features, T const* filters, T* out)
{
    switch (p.k)
    {
    case 1: dispatchVec<T, 1>(p, plan, features, filters, out); break;
    case 3: dispatchVec<T, 3>(p, plan, features, filters, out); break;
    case 5: dispatchVec<T, 5>(p, plan, features, filters, out); break;
    default: dispatchVec<T, 7>(p, plan, features, filters, out); break;
    }
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
    Plan const plan = makePlan(p, vectorise != 0);
    if (half_storage == 0)
    {
        dispatch<float>(p, plan, features, filters, out);
        return 0;
    }
    size_t const nf = static_cast<size_t>(B) * static_cast<size_t>(filterChannels(N, C, k, layout)) * H * W;
    std::vector<HalfBits> const x = toHalf(features, n);
    std::vector<HalfBits> const f = toHalf(filters, nf);
    std::vector<HalfBits> y(n);
    dispatch<HalfBits>(p, plan, x.data(), f.data(), y.data());
    for (size_t i = 0; i < n; ++i)
    {
        out[i] = halfBitsToFloat(y[i].bits);
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
