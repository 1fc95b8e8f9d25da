"""TAHAR: shapes, the [CLS]-only cross-attention, the masked loss, and that it can learn."""
import torch
import torch.nn as nn

import torch.nn.functional as F

from skelgen.model import CLSCrossAttention, ModelConfig, TAHAR, attention, reconstruction_loss

CFG = ModelConfig(in_dim=2 * 25 * 3, frames=12, dim=32, heads=4, enc_depth=2, dec_depth=2)


def test_shapes_two_persons():
    torch.manual_seed(0)
    m = TAHAR(CFG)
    x = torch.randn(3, 12, CFG.in_dim)
    assert m.forward_encoder(x).shape == (3, 13, 32)
    assert m.encode(x).shape == (3, 32)
    assert m(x, torch.zeros_like(x)).shape == x.shape
    assert m(x[:, :7], x[:, :7]).shape == (3, 7, CFG.in_dim)


def test_cross_attention_equals_multihead_attention_over_one_key():
    torch.manual_seed(0)
    ours = CLSCrossAttention(CFG)
    ref = nn.MultiheadAttention(32, 4, batch_first=True)
    with torch.no_grad():  # same value and output weights; query and key weights are arbitrary
        ref.in_proj_weight[64:] = ours.value.weight
        ref.in_proj_bias[64:] = ours.value.bias
        ref.out_proj.weight.copy_(ours.proj.weight)
        ref.out_proj.bias.copy_(ours.proj.bias)
    x, cls = torch.randn(2, 9, 32), torch.randn(2, 32)
    expected, _ = ref(x, cls[:, None], cls[:, None])
    torch.testing.assert_close(ours(x, cls), expected, atol=1e-5, rtol=1e-5)


def test_bf16_attention_on_cpu_is_computed_in_fp32_when_training():
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 4, 9, 8).to(torch.bfloat16).requires_grad_() for _ in range(3))
    mask = torch.rand(2, 1, 1, 9) > 0.3
    mask[..., 0] = True
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = attention(q, k, v, mask)
    assert y.dtype == torch.bfloat16  # the caller's dtype back
    expected = F.scaled_dot_product_attention(q.float(), k.float(), v.float(), attn_mask=mask)
    assert torch.equal(y, expected.to(torch.bfloat16))
    torch.testing.assert_close(attention(q.float(), k.float(), v.float(), mask), expected)  # fp32 untouched
    with torch.no_grad():  # inference: torch's bf16 kernel, as fast or faster than fp32
        assert torch.equal(attention(q, k, v, mask), F.scaled_dot_product_attention(q, k, v, attn_mask=mask))


def test_decoder_sees_encoder_only_through_cls():
    torch.manual_seed(0)
    m = TAHAR(CFG).eval()
    x, x_dec = torch.randn(2, 12, CFG.in_dim), torch.randn(2, 12, CFG.in_dim)
    z = m.forward_encoder(x)
    out = m.decode(z[:, 0], x_dec)
    z_other = z.clone()
    z_other[:, 1:] = torch.randn_like(z_other[:, 1:])  # change every frame output, keep [CLS]
    torch.testing.assert_close(m.decode(z_other[:, 0], x_dec), out)
    assert not torch.allclose(m.decode(z[:, 0] + 1, x_dec), out)


def test_padding_is_masked_out_of_attention():
    torch.manual_seed(0)
    m = TAHAR(CFG).eval()
    x = torch.randn(1, 12, CFG.in_dim)
    lengths = torch.tensor([8])
    other = x.clone()
    other[:, 8:] = 100.0  # padded frames may hold anything
    torch.testing.assert_close(m.encode(x, lengths), m.encode(other, lengths))
    torch.testing.assert_close(m(x, x, lengths=lengths)[:, :8], m(other, other, lengths=lengths)[:, :8])


def test_loss_counts_only_masked_and_unpadded_positions():
    target = torch.zeros(2, 5, 1, 4, 3)
    recon = torch.zeros_like(target)
    mask = torch.zeros(2, 5, 1, 4, dtype=torch.bool)
    mask[0, 1] = True
    recon[0, 2] = 50.0  # unmasked error: ignored
    assert reconstruction_loss(recon, target, mask) == 0
    recon[0, 1] = 0.5  # masked error: counted, smooth L1 0.5 * 0.5^2
    torch.testing.assert_close(reconstruction_loss(recon, target, mask), torch.tensor(0.125))
    recon[0, 4] = 9.0  # padding never counts, even without a mask
    full = reconstruction_loss(recon, target, None, lengths=torch.tensor([2, 5]))
    torch.testing.assert_close(full, torch.tensor(0.125 * 4 / (8 + 20)))


def test_overfits_a_few_sequences():
    torch.manual_seed(0)
    m = TAHAR(CFG)
    t = torch.linspace(0, 3, 12)[None, :, None, None, None]
    x = torch.sin(t * torch.randn(4, 1, 2, 25, 3) + torch.randn(4, 1, 2, 25, 3))  # 4 smooth motions
    gen = torch.Generator().manual_seed(0)
    from skelgen.augment import mask_frames_joints
    opt = torch.optim.AdamW(m.parameters(), lr=2e-3)
    losses = []
    for _ in range(300):
        x_dec, mask = mask_frames_joints(x, gen, 0.8, 0.8)
        loss = m.forward_loss(x, x_dec, mask)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] / 10
