# nlme's Machines: 6 workers x 3 machines x 3 scores; Machine fixed
# (treatment contrasts, A the reference), Worker and Worker:Machine random.
# Run from this folder: Rscript generate.R
source("../lmm_common/export.R")
data <- roundtrip_csv(nlme::Machines)
fit_all_ext(list(
  list(name = "reml", formula_r = "score ~ Machine + (1 | Worker/Machine)",
       formula_py = "score ~ C(Machine) + (1 | Worker/Machine)", reml = TRUE)
), data, "nlme::Machines")
