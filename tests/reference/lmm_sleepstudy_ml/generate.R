# lme4's sleepstudy, ML fit of the correlated model with the extended export
# (Satterthwaite p-values etc.). The same fit is ml_correlated in
# ../lmm_sleepstudy, whose files are left as they are.
# Run from this folder: Rscript generate.R
source("../lmm_common/export.R")
data <- roundtrip_csv(lme4::sleepstudy)
fit_all_ext(list(
  list(name = "ml", formula_r = "Reaction ~ Days + (Days | Subject)",
       formula_py = "Reaction ~ Days + (Days | Subject)", reml = FALSE)
), data, "lme4::sleepstudy")
