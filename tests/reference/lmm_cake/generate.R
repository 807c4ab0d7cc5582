# lme4's cake: 15 replicates x 3 recipes x 6 baking temperatures. recipe is a
# factor (treatment contrasts, A the reference); temperature is an ordered
# factor as in lme4's data, so R codes it with orthogonal polynomial contrasts
# (.L .Q .C ^4 ^5). Run from this folder: Rscript generate.R
source("../lmm_common/export.R")
data <- roundtrip_csv(lme4::cake)
stopifnot(is.ordered(data$temperature), all.equal(unname(contrasts(data$temperature)), unname(contr.poly(6))))
fpy <- "angle ~ C(recipe) * C(temperature, contr.poly) + (1 | replicate/recipe)"
fit_all_ext(list(
  list(name = "reml", formula_r = "angle ~ recipe * temperature + (1 | replicate/recipe)", formula_py = fpy, reml = TRUE),
  list(name = "ml", formula_r = "angle ~ recipe * temperature + (1 | replicate/recipe)", formula_py = fpy, reml = FALSE)
), data, "lme4::cake")
