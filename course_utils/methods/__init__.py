"""Lesson methods: tested implementations of what the lessons measure and compare.

- ``model_zoo``   -- lesson 02: backbones measured (size, latency, published accuracy)
- ``bias``, ``fairness``, ``attribution`` -- lesson 05: biased data, group metrics, Grad-CAM
- ``training``    -- lesson 06: rewind a compiled model instead of re-tracing it
- ``adaptation``  -- lessons 07-08: shift measures, AdaBN in one pass, pseudo-labels
- ``text``        -- lesson 10: padding token ids, padding cost, balanced draws, share of a gap recovered
"""
