// SPDX-License-Identifier: Apache-2.0
//
// A fused CPU IAC (docs/ARCHITECTURE.md) for the benchmark's "native" rows.
//
// The IAC never mixes channels, so each (batch, channel) plane runs all N iterations while it
// sits in cache: vertical pass, horizontal pass, bias and leaky ReLU, ping-ponging between two
// plane-sized buffers. The filter tensor is read exactly once, in order; nothing the size of the
// features is ever allocated besides the output. Planes are shared among threads with OpenMP.
// Per pass the sum runs tap by tap (k0*x0, then + k1*x1, ...), in the order of ifan_trt.iac.iac.
#include <algorithm>
#include <cstdint>
#include <vector>

#include <omp.h>

namespace
{

inline int64_t clampIndex(int64_t i, int64_t n)
{
    return i < 0 ? 0 : (i >= n ? n - 1 : i);
}

// out[y][x] = sum_t kern[t][y][x] * in[clamp(y - p + t)][x]; kern[t] planes are planeStride apart
void verticalPass(float const* in, float const* kern, int64_t planeStride, float* out, int64_t H, int64_t W, int k)
{
    int const p = (k - 1) / 2;
    for (int64_t y = 0; y < H; ++y)
    {
        float* o = out + y * W;
        for (int t = 0; t < k; ++t)
        {
            float const* src = in + clampIndex(y - p + t, H) * W;
            float const* kt = kern + t * planeStride + y * W;
            if (t == 0)
            {
                for (int64_t x = 0; x < W; ++x)
                    o[x] = kt[x] * src[x];
            }
            else
            {
                for (int64_t x = 0; x < W; ++x)
                    o[x] = o[x] + kt[x] * src[x];
            }
        }
    }
}

// out[y][x] = sum_t kern[t][y][x] * in[y][clamp(x - p + t)], then + bias, leaky ReLU
void horizontalPass(float const* in, float const* kern, int64_t planeStride, float const* bias, float* out,
    int64_t H, int64_t W, int k, float slope)
{
    int const p = (k - 1) / 2;
    for (int64_t y = 0; y < H; ++y)
    {
        float const* row = in + y * W;
        float* o = out + y * W;
        float const* kr = kern + y * W;
        int64_t const lo = std::min<int64_t>(p, W);
        int64_t const hi = std::max<int64_t>(lo, W - p);
        for (int64_t x = 0; x < lo; ++x) // left border: clamped columns
        {
            float acc = kr[x] * row[clampIndex(x - p, W)];
            for (int t = 1; t < k; ++t)
                acc = acc + kr[t * planeStride + x] * row[clampIndex(x - p + t, W)];
            o[x] = acc;
        }
        for (int t = 0; t < k; ++t) // interior: shifted rows, vectorised
        {
            float const* kt = kr + t * planeStride;
            float const* src = row - p + t;
            if (t == 0)
            {
                for (int64_t x = lo; x < hi; ++x)
                    o[x] = kt[x] * src[x];
            }
            else
            {
                for (int64_t x = lo; x < hi; ++x)
                    o[x] = o[x] + kt[x] * src[x];
            }
        }
        for (int64_t x = hi; x < W; ++x) // right border
        {
            float acc = kr[x] * row[clampIndex(x - p, W)];
            for (int t = 1; t < k; ++t)
                acc = acc + kr[t * planeStride + x] * row[clampIndex(x - p + t, W)];
            o[x] = acc;
        }
        float const* b = bias + y * W;
        for (int64_t x = 0; x < W; ++x)
        {
            float const v = o[x] + b[x];
            o[x] = v > 0.0F ? v : v * slope;
        }
    }
}

} // namespace

// Filters F [B, Cf, H, W]: layout 0 (full) N x [kernel1 (C*k), kernel2 (C*k)] then N x bias (C);
// layout 1 (compact) N x kernel1 then N x bias. mode 0 reads kernel1 for both passes, 1 kernel2
// for the horizontal one. Channel of tap t of channel ch within a kernel: ch*k + t.
// Returns 0, or a negative code for invalid arguments.
extern "C" __attribute__((visibility("default"))) int ifan_iac_cpu(float const* features, float const* filters,
    float* out, int64_t B, int64_t C, int64_t H, int64_t W, int64_t N, int64_t k, int64_t mode, int64_t layout,
    float slope, int threads)
{
    if (N < 1 || k < 1 || k % 2 == 0 || (mode != 0 && mode != 1) || (layout != 0 && layout != 1))
        return -1;
    if (mode == 1 && layout == 1)
        return -2;
    int64_t const plane = H * W;
    int64_t const kernels = C * k;
    int64_t const perIter = layout == 0 ? 2 * kernels : kernels;
    int64_t const filterChannels = N * (perIter + C);
    int64_t const planes = B * C;
#pragma omp parallel num_threads(threads > 0 ? threads : omp_get_max_threads())
    {
        std::vector<float> a(static_cast<size_t>(plane)), v(static_cast<size_t>(plane));
#pragma omp for schedule(static)
        for (int64_t bc = 0; bc < planes; ++bc)
        {
            int64_t const b = bc / C;
            int64_t const ch = bc % C;
            float const* F = filters + b * filterChannels * plane;
            float const* src = features + bc * plane;
            for (int64_t i = 0; i < N; ++i)
            {
                // the last iteration writes straight into the output
                float* dst = (i == N - 1) ? out + bc * plane : a.data();
                float const* k1 = F + (i * perIter + ch * k) * plane;
                float const* k2 = mode == 1 ? k1 + kernels * plane : k1;
                float const* bias = F + (N * perIter + i * C + ch) * plane;
                verticalPass(src, k1, plane, v.data(), H, W, static_cast<int>(k));
                horizontalPass(v.data(), k2, plane, bias, dst, H, W, static_cast<int>(k), slope);
                src = dst;
            }
        }
    }
    return 0;
}
