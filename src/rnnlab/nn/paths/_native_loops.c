/* The time loops of rnnlab's LSTM and SimpleRNN kernels, in C (lstm_kernel.py, rnn_kernel.py).
 *
 * Python drives everything that is one large operation over all steps (the input
 * projections, the weight and input gradients); this file runs only the per-step
 * recurrence, where a Python loop of small torch calls costs more in dispatch than
 * in arithmetic. Per LSTM step it makes four small GEMMs (one per gate, each gate has
 * its own recurrent dropout mask) and one fused element-wise pass; a SimpleRNN step
 * is one GEMM and one pass.
 *
 * Tensors arrive as raw float32 pointers laid out exactly as lstm_kernel.py
 * allocates them (gate order o, i, f, c; SimpleRNN: see below). The LSTM loops run
 * a chunk of T steps of a longer sequence (lstm_kernel.py walks the sequence in
 * chunks that stay in cache), so the per-gate buffers come with their gate stride:
 *   act (4, ., B, u)  gate pre-activations in, activated gates out; gate stride `gs`
 *   rk  (4, u, u)     recurrent kernel per gate
 *   rm  (4, B, u)     recurrent dropout masks per gate (NULL: no recurrent dropout)
 *   hs, cs (T+1, B, u) states, [0] holding the chunk's initial h / c
 *   hm  (4, ., B, u)  the masked states h_{t-1} * rm_g (the GEMMs' left operands;
 *                     unused without recurrent dropout, where h is); gate stride
 *                     `hgs`, step stride `hts` (0: a scratch that one step reuses)
 *   sm  (T, B) bytes  1 on valid steps (NULL: every step valid); a masked step
 *                     carries the states over (Keras backend.rnn)
 * and in the backward pass
 *   dhs (T, B, u)     dL/dh_t from the layer's outputs (NULL: only h_T was output,
 *                     its gradient arrives in `carry`)
 *   carry (B, u)      in: dL/dh at the chunk's last step from later steps; out:
 *                     dL/dh before its first step (h0's gradient after the last chunk)
 *   dc  (B, u)        likewise dL/dc, updated in place
 *   dz  (4, ., B, u)  dL/d(pre-activations); gate stride `zs`
 * Nothing of size T that the backward pass can recompute is stored: tanh(c_t) is
 * recomputed from c_t, so long sequences move less memory.
 *
 * The GEMM is the BLAS `sgemm_` that torch itself links (MKL on x86-64), handed in
 * by address from Python (`set_sgemm`), so this file needs no BLAS headers and no
 * torch headers: it builds in a second with any C compiler.
 *
 * exp/tanh are written out so that the compiler vectorises the element-wise
 * loops; target_clones builds AVX-512, AVX2 and baseline versions of them and the
 * loader picks the one the CPU supports.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

typedef void (*sgemm_fn)(const char *, const char *, const int *, const int *, const int *,
                         const float *, const float *, const int *, const float *, const int *,
                         const float *, float *, const int *);
static sgemm_fn sgemm = NULL;

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define VECTORISED __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define VECTORISED
#endif

/* Row-major C (M x N) = A (M x K) @ B (K x N) + beta * C, through the column-major
 * sgemm: C^T = B^T @ A^T. */
static void matmul(int M, int N, int K, const float *A, const float *B, float *C, float beta)
{
    const float one = 1.0f;
    sgemm("N", "N", &N, &M, &K, &one, B, &N, A, &K, &beta, C, &N);
}

/* Row-major C (M x N) = A (M x K) @ B^T, B being (N x K). */
static void matmul_nt(int M, int N, int K, const float *A, const float *B, float *C)
{
    const float one = 1.0f, zero = 0.0f;
    sgemm("T", "N", &N, &M, &K, &one, B, &K, A, &K, &zero, C, &N);
}

/* exp(x) for x in [-87, 88] (clamped), Cephes' range reduction and polynomial:
 * relative error ~2e-7. Branch-free, so loops over it vectorise. */
static inline float exp_approx(float x)
{
    x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
    const float shifter = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    float n = (x * 1.44269504088896341f + shifter) - shifter;
    float r = x - n * 0.693359375f + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23; /* 2^n */
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

static inline float sigmoid(float x) { return 1.0f / (1.0f + exp_approx(-x)); }

/* tanh: Cephes' odd polynomial near 0 (keeps relative accuracy for small x),
 * 1 - 2 / (exp(2|x|) + 1) elsewhere. */
static inline float tanh_approx(float x)
{
    float ax = x < 0.0f ? -x : x;
    float z = x * x;
    float small = ((((-5.70498872745e-3f * z + 2.06390887954e-2f) * z - 5.37397155531e-2f) * z
                    + 1.33314422036e-1f) * z - 3.33332819422e-1f) * z * x + x;
    float big = 1.0f - 2.0f / (exp_approx(2.0f * ax) + 1.0f);
    big = x < 0.0f ? -big : big;
    return ax < 0.625f ? small : big;
}

/* One step's gates and state update over n = B * u values. */
VECTORISED static void cell_forward(int64_t n, float *restrict o, float *restrict i,
                                    float *restrict f, float *restrict g,
                                    const float *restrict c_prev, float *restrict c_new,
                                    float *restrict h_new)
{
    for (int64_t k = 0; k < n; k++) {
        float ok = sigmoid(o[k]), ik = sigmoid(i[k]), fk = sigmoid(f[k]), gk = tanh_approx(g[k]);
        o[k] = ok, i[k] = ik, f[k] = fk, g[k] = gk;
        float c = fk * c_prev[k] + ik * gk;
        float t = tanh_approx(c);
        c_new[k] = c, h_new[k] = ok * t;
    }
}

/* hm_g = h * rm_g for one gate. */
VECTORISED static void mask_state(int64_t n, const float *restrict h, const float *restrict rm,
                                  float *restrict hm)
{
    for (int64_t k = 0; k < n; k++)
        hm[k] = h[k] * rm[k];
}

/* One step back through the gates, for u values of one row with step weight w
 * (1 valid, 0 masked): the pre-activation gradients dz and, in place, dc_{t-1}. */
VECTORISED static void cell_backward(int64_t u, float w, const float *restrict o,
                                     const float *restrict i, const float *restrict f,
                                     const float *restrict g, const float *restrict c_new,
                                     const float *restrict c_prev, const float *restrict dh,
                                     float *restrict dc, float *restrict dzo,
                                     float *restrict dzi, float *restrict dzf,
                                     float *restrict dzg)
{
    float keep = 1.0f - w;
    for (int64_t k = 0; k < u; k++) {
        float ok = o[k], ik = i[k], fk = f[k], gk = g[k], t = tanh_approx(c_new[k]);
        float d = dh[k] * w;
        float dcp = dc[k] + d * ok * (1.0f - t * t);
        float dcw = dcp * w;
        dzo[k] = d * ok * (1.0f - ok) * t;
        dzi[k] = dcw * ik * (1.0f - ik) * gk;
        dzf[k] = dcw * fk * (1.0f - fk) * c_prev[k];
        dzg[k] = dcw * ik * (1.0f - gk * gk);
        dc[k] = dcp * (w * fk + keep);
    }
}

/* dh_{t-1} = sum_g dhm_g * rm_g (rm NULL: no recurrent dropout), plus dh_t itself
 * on masked rows (the carried state). */
VECTORISED static void state_grad(int64_t u, const float *restrict dhm, int64_t gate_stride,
                                  const float *restrict rm, const float *restrict dh,
                                  float keep, float *restrict out)
{
    if (!rm) {
        for (int64_t k = 0; k < u; k++)
            out[k] = dhm[k] + dhm[gate_stride + k] + dhm[2 * gate_stride + k]
                     + dhm[3 * gate_stride + k] + keep * dh[k];
        return;
    }
    for (int64_t k = 0; k < u; k++)
        out[k] = dhm[k] * rm[k] + dhm[gate_stride + k] * rm[gate_stride + k]
                 + dhm[2 * gate_stride + k] * rm[2 * gate_stride + k]
                 + dhm[3 * gate_stride + k] * rm[3 * gate_stride + k] + keep * dh[k];
}

/* d = carry + dhs_t (dhs NULL: carry alone): the whole gradient of h_t. */
VECTORISED static void total_grad(int64_t u, const float *restrict carry,
                                  const float *restrict dhs, float *restrict d)
{
    for (int64_t k = 0; k < u; k++)
        d[k] = dhs ? carry[k] + dhs[k] : carry[k];
}

/* Subnormals flushed to zero on the calling thread while a loop runs (each OpenMP
 * thread has its own MXCSR): vanishing gradients pass through that range, where
 * x86 arithmetic is tens of times slower (see denormals.py). */
#if defined(__SSE__)
#include <xmmintrin.h>
#define FLUSH_BEGIN unsigned int saved_csr = _mm_getcsr(); _mm_setcsr(saved_csr | 0x8040);
#define FLUSH_END _mm_setcsr(saved_csr);
#else
#define FLUSH_BEGIN
#define FLUSH_END
#endif

/* The forward time loop for batch rows [b0, b1). Rows are independent sequences,
 * so each block runs all T steps on its own: no synchronisation between blocks. */
static void forward_rows(int b0, int b1, int T, int B, int u, int64_t gs, int64_t hgs,
                         int64_t hts, float *act, const float *rk, const float *rm, float *hs, float *cs, float *hm,
                         const uint8_t *sm)
{
    FLUSH_BEGIN
    const int64_t n = (int64_t)B * u; /* per step */
    const int64_t r0 = (int64_t)b0 * u, len = (int64_t)(b1 - b0) * u;
    for (int t = 0; t < T; t++) {
        const float *h = hs + t * n + r0, *c = cs + t * n + r0;
        float *hn = hs + (t + 1) * n + r0, *cn = cs + (t + 1) * n + r0;
        float *a = act + t * n + r0;
        for (int g = 0; g < 4; g++) {
            const float *left = h; /* without recurrent dropout: h itself */
            if (rm) {
                float *m = hm + t * hts + g * hgs + r0;
                mask_state(len, h, rm + g * n + r0, m);
                left = m;
            }
            matmul(b1 - b0, u, u, left, rk + (int64_t)g * u * u, a + g * gs, 1.0f);
        }
        cell_forward(len, a, a + gs, a + 2 * gs, a + 3 * gs, c, cn, hn);
        if (sm) /* masked rows keep their states */
            for (int b = b0; b < b1; b++)
                if (!sm[(int64_t)t * B + b]) {
                    int64_t r = (int64_t)(b - b0) * u;
                    memcpy(hn + r, h + r, u * sizeof(float));
                    memcpy(cn + r, c + r, u * sizeof(float));
                }
    }
    FLUSH_END
}

/* The backward time loop for batch rows [b0, b1) (independent, as forward). */
static void backward_rows(int b0, int b1, int T, int B, int u, int64_t gs, int64_t zs,
                          const float *act, const float *cs, const float *rk, const float *rm,
                          const uint8_t *sm, const float *dhs, float *carry, float *dc,
                          float *dz, float *dhm, float *dcur)
{
    FLUSH_BEGIN
    const int64_t n = (int64_t)B * u;
    for (int t = T - 1; t >= 0; t--) {
        const float *a = act + t * n;
        float *z = dz + t * n;
        for (int b = b0; b < b1; b++) {
            int64_t r = (int64_t)b * u;
            float w = sm ? (float)(sm[(int64_t)t * B + b] != 0) : 1.0f;
            total_grad(u, carry + r, dhs ? dhs + t * n + r : NULL, dcur + r);
            cell_backward(u, w, a + r, a + gs + r, a + 2 * gs + r, a + 3 * gs + r,
                          cs + (t + 1) * n + r, cs + t * n + r, dcur + r, dc + r, z + r,
                          z + zs + r, z + 2 * zs + r, z + 3 * zs + r);
        }
        const int64_t r0 = (int64_t)b0 * u;
        for (int g = 0; g < 4; g++)
            matmul_nt(b1 - b0, u, u, z + g * zs + r0, rk + (int64_t)g * u * u, dhm + g * n + r0);
        for (int b = b0; b < b1; b++) {
            int64_t r = (int64_t)b * u;
            float keep = sm ? (float)(sm[(int64_t)t * B + b] == 0) : 0.0f;
            state_grad(u, dhm + r, n, rm ? rm + r : NULL, dcur + r, keep, carry + r);
        }
    }
    FLUSH_END
}

/* Row blocks, one per thread (OpenMP, sharing torch's thread pool and its
 * torch.set_num_threads); each thread's GEMMs then run single-threaded. */
static int row_blocks(int B)
{
#ifdef _OPENMP
    int threads = omp_get_max_threads();
    return threads < B ? threads : B;
#else
    return 1;
#endif
}

#define BLOCK_START(k, blocks, B) ((int)((int64_t)(B) * (k) / (blocks)))

static void forward_loop(int T, int B, int u, int64_t gs, int64_t hgs, int64_t hts,
                         float *act, const float *rk,
                         const float *rm, float *hs, float *cs, float *hm, const uint8_t *sm)
{
    const int blocks = row_blocks(B);
#pragma omp parallel for num_threads(blocks) schedule(static, 1) if (blocks > 1)
    for (int k = 0; k < blocks; k++)
        forward_rows(BLOCK_START(k, blocks, B), BLOCK_START(k + 1, blocks, B), T, B, u, gs, hgs,
                     hts, act, rk, rm, hs, cs, hm, sm);
}

static void backward_loop(int T, int B, int u, int64_t gs, int64_t zs, const float *act,
                          const float *cs, const float *rk, const float *rm, const uint8_t *sm,
                          const float *dhs, float *carry, float *dc, float *dz, float *dhm,
                          float *dcur)
{
    const int blocks = row_blocks(B);
#pragma omp parallel for num_threads(blocks) schedule(static, 1) if (blocks > 1)
    for (int k = 0; k < blocks; k++)
        backward_rows(BLOCK_START(k, blocks, B), BLOCK_START(k + 1, blocks, B), T, B, u, gs, zs,
                      act, cs, rk, rm, sm, dhs, carry, dc, dz, dhm, dcur);
}

/* ---- SimpleRNN (tanh): h_t = tanh(xp_t + (h_{t-1} * rm) @ U) ------------------------
 * Buffers as the LSTM's with one gate: act (T, B, u) the pre-activations in, tanh out;
 * rk (u, u); rm (B, u) or NULL; hs (T+1, B, u); hm (T, B, u) (written only with rm). */

VECTORISED static void tanh_in_place(int64_t n, float *restrict z)
{
    for (int64_t k = 0; k < n; k++)
        z[k] = tanh_approx(z[k]);
}

/* dz = dh * w * (1 - a^2), a = tanh(z), for one row with step weight w. */
VECTORISED static void tanh_backward(int64_t u, float w, const float *restrict a,
                                     const float *restrict dh, float *restrict dz)
{
    for (int64_t k = 0; k < u; k++)
        dz[k] = dh[k] * w * (1.0f - a[k] * a[k]);
}

/* dh_{t-1} (+)= dhm * rm (rm NULL: dhm), plus dh_t on masked rows. */
VECTORISED static void rnn_state_grad(int64_t u, const float *restrict dhm,
                                      const float *restrict rm, const float *restrict dh,
                                      float keep, int accumulate, float *restrict out)
{
    for (int64_t k = 0; k < u; k++) {
        float s = dhm[k] * (rm ? rm[k] : 1.0f) + keep * dh[k];
        out[k] = accumulate ? out[k] + s : s;
    }
}

static void rnn_forward_rows(int b0, int b1, int T, int B, int u, float *act, const float *rk,
                             const float *rm, float *hs, float *hm, const uint8_t *sm)
{
    FLUSH_BEGIN
    const int64_t n = (int64_t)B * u, r0 = (int64_t)b0 * u, len = (int64_t)(b1 - b0) * u;
    for (int t = 0; t < T; t++) {
        const float *h = hs + t * n + r0, *left = h;
        float *hn = hs + (t + 1) * n + r0, *a = act + t * n + r0;
        if (rm) {
            mask_state(len, h, rm + r0, hm + t * n + r0);
            left = hm + t * n + r0;
        }
        matmul(b1 - b0, u, u, left, rk, a, 1.0f);
        tanh_in_place(len, a);
        memcpy(hn, a, len * sizeof(float));
        if (sm) /* masked rows keep their state */
            for (int b = b0; b < b1; b++)
                if (!sm[(int64_t)t * B + b]) {
                    int64_t r = (int64_t)(b - b0) * u;
                    memcpy(hn + r, h + r, u * sizeof(float));
                }
    }
    FLUSH_END
}

static void rnn_backward_rows(int b0, int b1, int T, int B, int u, const float *act,
                              const float *rk, const float *rm, const uint8_t *sm, float *dh,
                              float *dz, float *dhm, float *dh0)
{
    FLUSH_BEGIN
    const int64_t n = (int64_t)B * u, r0 = (int64_t)b0 * u;
    for (int t = T - 1; t >= 0; t--) {
        const float *d = dh + t * n;
        for (int b = b0; b < b1; b++) {
            int64_t r = (int64_t)b * u;
            float w = sm ? (float)(sm[(int64_t)t * B + b] != 0) : 1.0f;
            tanh_backward(u, w, act + t * n + r, d + r, dz + t * n + r);
        }
        matmul_nt(b1 - b0, u, u, dz + t * n + r0, rk, dhm + r0);
        float *out = t > 0 ? dh + (t - 1) * n : dh0;
        for (int b = b0; b < b1; b++) {
            int64_t r = (int64_t)b * u;
            float keep = sm ? (float)(sm[(int64_t)t * B + b] == 0) : 0.0f;
            rnn_state_grad(u, dhm + r, rm ? rm + r : NULL, d + r, keep, t > 0, out + r);
        }
    }
    FLUSH_END
}

static void rnn_forward_loop(int T, int B, int u, float *act, const float *rk, const float *rm,
                             float *hs, float *hm, const uint8_t *sm)
{
    const int blocks = row_blocks(B);
#pragma omp parallel for num_threads(blocks) schedule(static, 1) if (blocks > 1)
    for (int k = 0; k < blocks; k++)
        rnn_forward_rows(BLOCK_START(k, blocks, B), BLOCK_START(k + 1, blocks, B), T, B, u, act,
                         rk, rm, hs, hm, sm);
}

static void rnn_backward_loop(int T, int B, int u, const float *act, const float *rk,
                              const float *rm, const uint8_t *sm, float *dh, float *dz,
                              float *dhm, float *dh0)
{
    const int blocks = row_blocks(B);
#pragma omp parallel for num_threads(blocks) schedule(static, 1) if (blocks > 1)
    for (int k = 0; k < blocks; k++)
        rnn_backward_rows(BLOCK_START(k, blocks, B), BLOCK_START(k + 1, blocks, B), T, B, u, act,
                          rk, rm, sm, dh, dz, dhm, dh0);
}

static PyObject *py_set_sgemm(PyObject *self, PyObject *args)
{
    unsigned long long address;
    if (!PyArg_ParseTuple(args, "K", &address))
        return NULL;
    sgemm = (sgemm_fn)(uintptr_t)address;
    Py_RETURN_NONE;
}

static int ready(void)
{
    if (!sgemm)
        PyErr_SetString(PyExc_RuntimeError, "rnnlab LSTM loop: call set_sgemm first");
    return sgemm != NULL;
}

static PyObject *py_lstm_forward(PyObject *self, PyObject *args)
{
    int T, B, u;
    long long gs, hgs, hts;
    unsigned long long act, rk, rm, hs, cs, hm, sm;
    if (!PyArg_ParseTuple(args, "iiiLLLKKKKKKK", &T, &B, &u, &gs, &hgs, &hts, &act, &rk, &rm, &hs,
                          &cs, &hm, &sm) || !ready())
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    forward_loop(T, B, u, gs, hgs, hts, (float *)act, (const float *)rk, (const float *)rm, (float *)hs,
                 (float *)cs, (float *)hm, (const uint8_t *)sm);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyObject *py_lstm_backward(PyObject *self, PyObject *args)
{
    int T, B, u;
    long long gs, zs;
    unsigned long long act, cs, rk, rm, sm, dhs, carry, dc, dz, dhm, dcur;
    if (!PyArg_ParseTuple(args, "iiiLLKKKKKKKKKKK", &T, &B, &u, &gs, &zs, &act, &cs, &rk, &rm,
                          &sm, &dhs, &carry, &dc, &dz, &dhm, &dcur) || !ready())
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    backward_loop(T, B, u, gs, zs, (const float *)act, (const float *)cs, (const float *)rk,
                  (const float *)rm, (const uint8_t *)sm, (const float *)dhs, (float *)carry,
                  (float *)dc, (float *)dz, (float *)dhm, (float *)dcur);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyObject *py_rnn_forward(PyObject *self, PyObject *args)
{
    int T, B, u;
    unsigned long long act, rk, rm, hs, hm, sm;
    if (!PyArg_ParseTuple(args, "iiiKKKKKK", &T, &B, &u, &act, &rk, &rm, &hs, &hm, &sm) || !ready())
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    rnn_forward_loop(T, B, u, (float *)act, (const float *)rk, (const float *)rm, (float *)hs,
                     (float *)hm, (const uint8_t *)sm);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyObject *py_rnn_backward(PyObject *self, PyObject *args)
{
    int T, B, u;
    unsigned long long act, rk, rm, sm, dh, dz, dhm, dh0;
    if (!PyArg_ParseTuple(args, "iiiKKKKKKKK", &T, &B, &u, &act, &rk, &rm, &sm, &dh, &dz, &dhm,
                          &dh0) || !ready())
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    rnn_backward_loop(T, B, u, (const float *)act, (const float *)rk, (const float *)rm,
                      (const uint8_t *)sm, (float *)dh, (float *)dz, (float *)dhm, (float *)dh0);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

/* Flush-to-zero on (or off) in every thread of the OpenMP pool, which torch's
 * parallel ops and MKL's GEMMs share: torch.set_flush_denormal sets only the
 * calling thread, and a GEMM over vanishing gradients then runs its other
 * thread's half on subnormals, several times slower. */
static PyObject *py_flush_subnormals_in_pool(PyObject *self, PyObject *args)
{
    int on;
    if (!PyArg_ParseTuple(args, "p", &on))
        return NULL;
#if defined(__SSE__)
#ifdef _OPENMP
#pragma omp parallel
#endif
    {
        unsigned int csr = _mm_getcsr();
        _mm_setcsr(on ? (csr | 0x8040u) : (csr & ~0x8040u));
    }
#endif
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"flush_subnormals_in_pool", py_flush_subnormals_in_pool, METH_VARARGS,
     "flush_subnormals_in_pool(on): flush-to-zero mode in every OpenMP pool thread."},
    {"set_sgemm", py_set_sgemm, METH_VARARGS, "set_sgemm(address): the BLAS sgemm_ to call."},
    {"lstm_forward", py_lstm_forward, METH_VARARGS,
     "lstm_forward(T, B, u, gs, hgs, hts, act, rk, rm, hs, cs, hm, sm): the LSTM forward "
     "time loop."},
    {"lstm_backward", py_lstm_backward, METH_VARARGS,
     "lstm_backward(T, B, u, gs, zs, act, cs, rk, rm, sm, dhs, carry, dc, dz, dhm, dcur): "
     "its backward."},
    {"rnn_forward", py_rnn_forward, METH_VARARGS,
     "rnn_forward(T, B, u, act, rk, rm, hs, hm, sm): the SimpleRNN (tanh) forward time loop."},
    {"rnn_backward", py_rnn_backward, METH_VARARGS,
     "rnn_backward(T, B, u, act, rk, rm, sm, dh, dz, dhm, dh0): its backward."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_native_loops",
    "C time loops of rnnlab's LSTM and SimpleRNN kernels (lstm_kernel.py, rnn_kernel.py).", -1, methods,
};

PyMODINIT_FUNC PyInit__native_loops(void) { return PyModule_Create(&module); }
