/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * The three phases of one IAC iteration over one tile, written once for the CUDA kernel
 * (iacKernel.cu, one thread per call, __syncthreads between phases) and for the CPU emulation
 * (iacEmulate.cpp, which loops over blocks and threads). Phases:
 *   1. loadFeatureTile: features of the tile rows plus p rows above and below (clamped), and the
 *      halo columns, into shared memory as float;
 *   2. verticalPass: each thread reads its kernel1 taps (kept in registers) and writes
 *      v = sum_t kernel1[t] * x[row - p + t] to shared memory;
 *   3. horizontalPass: h = sum_t K[t] * v[col - p + t] (clamped columns), + bias, leaky ReLU,
 *      stored. K is kernel1 from the registers (official mode) or kernel2 (corrected mode), so
 *      each filter element is read from memory once.
 */
#ifndef IFAN_IAC_TILE_H
#define IFAN_IAC_TILE_H

#include "iacMath.h"

namespace ifan
{
namespace iac
{

//! Host stand-in for a half element: the bits of an IEEE binary16.
struct HalfBits
{
    uint16_t bits;
};

//! Element <-> float conversion. The device specialisation for __half lives in iacKernel.cu.
template <typename T>
struct Elem;

template <>
struct Elem<float>
{
    static IFAN_HD float load(float v)
    {
        return v;
    }
    static IFAN_HD float store(float v)
    {
        return v;
    }
};

template <>
struct Elem<HalfBits>
{
    static inline float load(HalfBits v)
    {
        return halfBitsToFloat(v.bits);
    }
    static inline HalfBits store(float v)
    {
        return HalfBits{floatToHalfBits(v)};
    }
};

//! Loads and stores of VEC consecutive elements. This generic version is element by element;
//! iacKernel.cu specialises it with 16-byte (float) and 8-byte (half) vector accesses, valid
//! because the plan only uses VEC = 4 when every row start is 4-element aligned.
template <typename T, int VEC>
struct Io
{
    static IFAN_HD void load(T const* p, float (&out)[VEC])
    {
        IFAN_UNROLL
        for (int j = 0; j < VEC; ++j)
        {
            out[j] = Elem<T>::load(p[j]);
        }
    }
    //! Filters are streamed (read once): the device version bypasses the caches where it can.
    static IFAN_HD void loadStreaming(T const* p, float (&out)[VEC])
    {
        load(p, out);
    }
    static IFAN_HD void store(T* p, float const (&v)[VEC])
    {
        IFAN_UNROLL
        for (int j = 0; j < VEC; ++j)
        {
            p[j] = Elem<T>::store(v[j]);
        }
    }
};

//! Arguments of one iteration.
template <typename T>
struct IterArgs
{
    Problem problem;
    Plan plan;
    int32_t iter;
    T const* src;     //!< x_i [B, C, H, W]
    T const* filters; //!< F [B, Cf, H, W]
    T* dst;           //!< x_{i+1} [B, C, H, W]
};

//! Where a block works: plane (b, ch) and the tile's first row and column.
struct Tile
{
    int32_t b;
    int32_t ch;
    int32_t y0;
    int32_t x0;
};

//! plane = b * C + ch; tile = tile row * tilesX + tile column. The kernel takes the tile from
//! blockIdx.x (scheduled first), so the tiles of one plane run together and the p feature rows a
//! tile shares with its neighbours are still in L2.
IFAN_HD Tile tileOf(Problem const& p, Plan const& plan, int32_t plane, int32_t tile)
{
    Tile t;
    t.b = plane / p.C;
    t.ch = plane % p.C;
    t.y0 = (tile / plan.tilesX) * plan.rows;
    t.x0 = (tile % plan.tilesX) * plan.groups * plan.vec;
    return t;
}

//! Offset of element (b, channel, y, x) in a [B, channels, H, W] tensor.
IFAN_HD int64_t offsetOf(Problem const& p, int64_t channels, int32_t b, int64_t channel, int32_t y, int32_t x)
{
    return ((b * channels + channel) * p.H + y) * p.W + x;
}

//! Registers a thread carries from the vertical to the horizontal pass.
template <int K, int VEC>
struct ThreadState
{
    float kernel1[K][VEC];
};

//! Phase 1, all threads of the block share the work: tid in [0, nThreads).
//! smem: feature tile [(rows + 2p) x smemCols], then vertical tile [rows x smemCols].
template <typename T, int K, int VEC>
IFAN_HD void loadFeatureTile(IterArgs<T> const& a, Tile const& tile, float* smem, int32_t tid, int32_t nThreads)
{
    constexpr int32_t P = (K - 1) / 2;
    Problem const& p = a.problem;
    Plan const& plan = a.plan;
    int32_t const groupsWithHalo = plan.groups + 2 * plan.halo;
    int32_t const items = (plan.rows + 2 * P) * groupsWithHalo;
    for (int32_t item = tid; item < items; item += nThreads)
    {
        int32_t const r = item / groupsWithHalo;
        int32_t const g = item % groupsWithHalo - plan.halo;
        int32_t const x = tile.x0 + g * VEC;
        if (x < 0 || x >= p.W)
        {
            continue; // outside the image: never read (columns are clamped into [0, W))
        }
        int32_t const y = clampIndex(tile.y0 - P + r, p.H);
        float v[VEC];
        Io<T, VEC>::load(a.src + offsetOf(p, p.C, tile.b, tile.ch, y, x), v);
        float* row = smem + r * plan.smemCols + (g + plan.halo) * VEC;
        IFAN_UNROLL
        for (int j = 0; j < VEC; ++j)
        {
            row[j] = v[j];
        }
    }
}

//! v of one column group g (tile-relative, may be a halo group) of tile row r.
template <typename T, int K, int VEC>
IFAN_HD void verticalGroup(
    IterArgs<T> const& a, Tile const& tile, float* smem, int32_t r, int32_t g, float (&kernel1)[K][VEC])
{
    Problem const& p = a.problem;
    Plan const& plan = a.plan;
    int32_t const y = tile.y0 + r;
    int32_t const x = tile.x0 + g * VEC;
    float acc[VEC];
    IFAN_UNROLL
    for (int j = 0; j < VEC; ++j)
    {
        acc[j] = 0.0F;
    }
    int64_t const channels = filterChannels(p.N, p.C, p.k, p.layout);
    int32_t const col = (g + plan.halo) * VEC;
    IFAN_UNROLL
    for (int t = 0; t < K; ++t)
    {
        int64_t const channel = kernelChannel(p, a.iter, tile.ch, t, false);
        Io<T, VEC>::loadStreaming(a.filters + offsetOf(p, channels, tile.b, channel, y, x), kernel1[t]);
        // feature tile row r + t holds image row clamp(y - p + t)
        float const* xs = smem + (r + t) * plan.smemCols + col;
        IFAN_UNROLL
        for (int j = 0; j < VEC; ++j)
        {
            acc[j] += kernel1[t][j] * xs[j];
        }
    }
    float* vs = smem + (plan.rows + 2 * ((K - 1) / 2) + r) * plan.smemCols + col;
    IFAN_UNROLL
    for (int j = 0; j < VEC; ++j)
    {
        vs[j] = acc[j];
    }
}

IFAN_HD bool groupInImage(Problem const& p, Tile const& tile, int32_t r, int32_t g, int32_t vec)
{
    int32_t const x = tile.x0 + g * vec;
    return tile.y0 + r < p.H && x >= 0 && x < p.W;
}

//! Phase 2 for thread (gx, r): its own group, and a halo group for the threads at the tile edges
//! (needed only where a neighbouring tile owns those columns; elsewhere they are outside [0, W)
//! or inside this tile).
template <typename T, int K, int VEC>
IFAN_HD void verticalPass(
    IterArgs<T> const& a, Tile const& tile, float* smem, int32_t gx, int32_t r, ThreadState<K, VEC>& state)
{
    Problem const& p = a.problem;
    Plan const& plan = a.plan;
    if (groupInImage(p, tile, r, gx, VEC))
    {
        verticalGroup<T, K, VEC>(a, tile, smem, r, gx, state.kernel1);
    }
    if (plan.halo > 0 && plan.tilesX > 1)
    {
        float scratch[K][VEC];
        if (gx < plan.halo && groupInImage(p, tile, r, gx - plan.halo, VEC))
        {
            verticalGroup<T, K, VEC>(a, tile, smem, r, gx - plan.halo, scratch);
        }
        if (gx >= plan.groups - plan.halo && groupInImage(p, tile, r, gx + plan.halo, VEC))
        {
            verticalGroup<T, K, VEC>(a, tile, smem, r, gx + plan.halo, scratch);
        }
    }
}

//! Phase 3 for thread (gx, r): horizontal pass, bias, leaky ReLU, store.
template <typename T, int K, int VEC>
IFAN_HD void horizontalPass(
    IterArgs<T> const& a, Tile const& tile, float* smem, int32_t gx, int32_t r, ThreadState<K, VEC>& state)
{
    constexpr int32_t P = (K - 1) / 2;
    Problem const& p = a.problem;
    Plan const& plan = a.plan;
    if (!groupInImage(p, tile, r, gx, VEC))
    {
        return;
    }
    int32_t const y = tile.y0 + r;
    int32_t const x = tile.x0 + gx * VEC;
    int64_t const channels = filterChannels(p.N, p.C, p.k, p.layout);
    // horizontal kernel: kernel1 from the registers (official) or kernel2 from memory (corrected)
    float kernelH[K][VEC];
    if (p.mode == kMODE_CORRECTED)
    {
        IFAN_UNROLL
        for (int t = 0; t < K; ++t)
        {
            int64_t const channel = kernelChannel(p, a.iter, tile.ch, t, true);
            Io<T, VEC>::loadStreaming(a.filters + offsetOf(p, channels, tile.b, channel, y, x), kernelH[t]);
        }
    }
    else
    {
        IFAN_UNROLL
        for (int t = 0; t < K; ++t)
        {
            IFAN_UNROLL
            for (int j = 0; j < VEC; ++j)
            {
                kernelH[t][j] = state.kernel1[t][j];
            }
        }
    }
    float bias[VEC];
    Io<T, VEC>::loadStreaming(a.filters + offsetOf(p, channels, tile.b, biasChannel(p, a.iter, tile.ch), y, x), bias);
    // shared-memory column of image column c is c - (x0 - halo * vec)
    int32_t const firstCol = tile.x0 - plan.halo * VEC;
    float const* vs = smem + (plan.rows + 2 * P + r) * plan.smemCols;
    float out[VEC];
    IFAN_UNROLL
    for (int j = 0; j < VEC; ++j)
    {
        float acc = 0.0F;
        IFAN_UNROLL
        for (int t = 0; t < K; ++t)
        {
            int32_t const c = clampIndex(x + j - P + t, p.W);
            acc += kernelH[t][j] * vs[c - firstCol];
        }
        out[j] = leakyRelu(acc + bias[j], p.slope);
    }
    Io<T, VEC>::store(a.dst + offsetOf(p, p.C, tile.b, tile.ch, y, x), out);
}

} // namespace iac
} // namespace ifan

#endif // IFAN_IAC_TILE_H
