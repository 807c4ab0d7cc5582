# Reference output of plm::pgmm on the Arellano-Bond (1991) EmplUK data.
# Run from this folder: Rscript generate.R   (writes emplUK.csv, output.txt, reference.json)
suppressPackageStartupMessages(library(plm))
data("EmplUK", package = "plm")
d <- data.frame(firm = EmplUK$firm, year = EmplUK$year,
                n = log(EmplUK$emp), w = log(EmplUK$wage),
                k = log(EmplUK$capital), ys = log(EmplUK$output))
write.csv(d, "emplUK.csv", row.names = FALSE)
d <- read.csv("emplUK.csv")
pd <- pdata.frame(d, index = c("firm", "year"))
fit <- pgmm(n ~ lag(n, 1) + lag(w, 0:1) + lag(k, 0:1) | lag(n, 2:99) + lag(w, 2:99) + lag(k, 2:99), data = pd, effect = "twoways", model = "onestep",
            transformation = "ld", collapse = TRUE)
s_rob <- summary(fit, robust = TRUE, time.dummies = TRUE)
s_std <- summary(fit, robust = FALSE, time.dummies = TRUE)
sink("output.txt")
cat("plm", as.character(packageVersion("plm")), "\n")
print(s_rob)
print(s_std)
sink()
num <- function(x) unname(as.numeric(x))
b <- coef(fit)
if (is.list(b)) b <- b[[2]]
ref <- list(
  formula = "n ~ lag(n, 1) + lag(w, 0:1) + lag(k, 0:1) | lag(n, 2:99) + lag(w, 2:99) + lag(k, 2:99)", effect = "twoways", model = "onestep",
  transformation = "ld", collapse = TRUE,
  plm_version = as.character(packageVersion("plm")),
  names = names(b), coef = num(b),
  se_robust = num(sqrt(diag(vcovHC(fit)))), se = num(sqrt(diag(vcov(fit)))),
  sargan = list(stat = num(s_rob$sargan$statistic), df = num(s_rob$sargan$parameter), p = num(s_rob$sargan$p.value)),
  m1_robust = num(s_rob$m1$statistic), m2_robust = num(s_rob$m2$statistic),
  m1 = num(s_std$m1$statistic), m2 = num(s_std$m2$statistic),
  n_instruments = ncol(fit$W[[1]]), n_units = length(fit$W),
  tolerance = list(coef = 1e-4, se = 1e-4, sargan = 1e-4, mtest = 1e-4, kind = "absolute")
)
writeLines(jsonlite::toJSON(ref, digits = NA, auto_unbox = TRUE, pretty = TRUE), "reference.json")
