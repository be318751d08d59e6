"""The networks of He et al. (ECCV 2016), original and pre-activation, as Keras
functional-API builders: the variants of Figs. 2 and 4 as enums (`variants`), the table of
architectures (`archs`), the layers Keras lacks (`layers`), the one residual-unit builder
(`units`), the network builder (`builder`), the named entry points (`zoo`) and the model
spec that names a network everywhere else (`spec`). See docs/architecture.md.
"""
