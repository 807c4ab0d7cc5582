# lme4's Penicillin with the plate effect only (the sample effect is left in
# the residual). Run from this folder: Rscript generate.R
source("../lmm_common/export.R")
data <- roundtrip_csv(lme4::Penicillin)
fit_all_ext(list(
  list(name = "reml", formula_r = "diameter ~ 1 + (1 | plate)",
       formula_py = "diameter ~ 1 + (1 | plate)", reml = TRUE)
), data, "lme4::Penicillin")
