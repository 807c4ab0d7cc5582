# lme4's Pastes, the nested model written with two plain terms: sample is
# batch:cask (30 distinct labels), so (1 | batch) + (1 | sample) is the same
# model as (1 | batch/cask). Run from this folder: Rscript generate.R
source("../lmm_common/export.R")
data <- roundtrip_csv(lme4::Pastes)
fit_all_ext(list(
  list(name = "reml", formula_r = "strength ~ 1 + (1 | batch) + (1 | sample)",
       formula_py = "strength ~ 1 + (1 | batch) + (1 | sample)", reml = TRUE)
), data, "lme4::Pastes")
