# lme4's Pastes: 10 batches x 3 casks x 2 assays; casks nested in batches
# (cask labels a, b, c repeat across batches). Run from this folder: Rscript generate.R
source("../lmm_common/export.R")
data <- roundtrip_csv(lme4::Pastes)
fit_all_ext(list(
  list(name = "reml", formula_r = "strength ~ 1 + (1 | batch/cask)",
       formula_py = "strength ~ 1 + (1 | batch/cask)", reml = TRUE)
), data, "lme4::Pastes")
